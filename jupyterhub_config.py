"""JupyterHub wiring for CourseHub: reads environment variables, holds no logic.

`coursehub up` sets the variables for a single machine; README.md lists them all.
"""

import os
import secrets
import sys
from pathlib import Path

from coursehub.hub.constants import (
    ACCESS_SERVICE_SCOPE,
    LESSON_SERVER_PORT,
    LESSON_SERVICE_NAME,
    SCOPE_READ,
    SCOPE_WRITE,
    SERVICE_NAME,
    SERVICE_PORT,
    SERVICE_PREFIX,
)
from coursehub.hub.landing import landing_url
from coursehub.hub.lms_frames import cookies_survive_lms_frames
from coursehub.hub.subdomains import keep_session_cookie_on_the_hub_host, subdomain_hook

c = get_config()  # noqa: F821 - provided by JupyterHub
env = os.environ
here = Path(__file__).resolve().parent
data_dir = Path(env.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve()
# Per-user subdomains (README, "People's servers on origins of their own"): each server at
# <name>.<host>, the hub and the course service on <host> itself. The platform's public URL
# is then that host.
subdomain_host = env.get("COURSEHUB_SUBDOMAIN_HOST", "").rstrip("/")
public_url = env.get("COURSEHUB_PUBLIC_URL", subdomain_host or "http://127.0.0.1:8000").rstrip("/")
service_port = int(env.get("COURSEHUB_SERVICE_PORT", SERVICE_PORT))
# Where the course service listens (COURSEHUB_SERVICE_BIND_IP, loopback by default) and where
# the hub and its proxy reach it: on one machine both are loopback; with the service in pods
# of its own (Kubernetes), the in-cluster address of its Service, and the hub starts neither
# it nor the lesson server beside it (COURSEHUB_SERVICE_EXTERNAL=1: they run in that pod).
service_bind_ip = env.get("COURSEHUB_SERVICE_BIND_IP", "127.0.0.1")
service_connect_url = env.get(
    "COURSEHUB_SERVICE_CONNECT_URL", f"http://127.0.0.1:{service_port}"
).rstrip("/")
service_external = env.get("COURSEHUB_SERVICE_EXTERNAL", "0") == "1"
hub_port = int(env.get("COURSEHUB_HUB_PORT", "8081"))
service_token = env["COURSEHUB_SERVICE_TOKEN"]
lesson_port = int(env.get("COURSEHUB_LESSON_PORT", LESSON_SERVER_PORT))
# Shared by the course service and the lesson server, which the hub starts together.
lesson_token = env.get("COURSEHUB_LESSON_TOKEN") or secrets.token_hex(32)

# -- the hub and its proxy ---------------------------------------------------------------
c.JupyterHub.bind_url = env.get("COURSEHUB_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{hub_port}"
c.JupyterHub.db_url = env.get("COURSEHUB_HUB_DB_URL", f"sqlite:///{data_dir / 'jupyterhub.sqlite'}")
c.JupyterHub.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(data_dir / "jupyterhub.pid")
# COURSEHUB_LOG_FORMAT=json: the hub's lines as JSON objects too (services/structured_logs.py).
if env.get("COURSEHUB_LOG_FORMAT", "").lower() == "json":
    c.JupyterHub.logging_config = {
        "formatters": {
            "json": {
                "()": "coursehub.services.structured_logs.JsonFormatter",
                "process_name": "hub",
            }
        },
        "handlers": {"console": {"formatter": "json"}},
    }
c.ConfigurableHTTPProxy.command = [
    env.get(
        "COURSEHUB_PROXY_COMMAND", str(here / "hub/proxy/node_modules/.bin/configurable-http-proxy")
    ),
    # The hub adds its own route only once the services have started; until then every path
    # would be the proxy's bare 404. With the hub as the default target, the course service's
    # /health answers 503 "starting" (coursehub.hub.health) while the service starts.
    f"--default-target=http://127.0.0.1:{hub_port}",
]
c.ConfigurableHTTPProxy.api_url = env.get("COURSEHUB_PROXY_API_URL", "http://127.0.0.1:8001")
c.JupyterHub.template_paths = [str(here / "hub" / "templates")]
# Instructors land on Teaching, everyone else on My learning (hub/landing.py).
c.JupyterHub.default_url = landing_url
c.JupyterHub.cleanup_servers = env.get("COURSEHUB_CLEANUP_SERVERS", "1") == "1"
# Cookies SameSite=Lax (Secure over https); HSTS over https. The course service does the same.
https = public_url.startswith("https://")
c.JupyterHub.tornado_settings = {
    "cookie_options": {"samesite": "Lax", **({"secure": True} if https else {})},
    "headers": {"Strict-Transport-Security": "max-age=31536000"} if https else {},
}
# Inside an LMS's iframe (an LTI launch) the hub's cookies are SameSite=None over https.
cookies_survive_lms_frames()
if subdomain_host:
    c.JupyterHub.subdomain_host = subdomain_host
    c.JupyterHub.subdomain_hook = subdomain_hook  # the course service stays on the hub's host
    keep_session_cookie_on_the_hub_host()  # JupyterHub would share it with every subdomain
    # Over https the hub's sign-in cookie is `__Host-` prefixed: a server cannot plant
    # ("toss") a cookie of that name for the hub's host from its subdomain.
    c.JupyterHub.cookie_host_prefix_enabled = https

# -- sign-in -------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "coursehub"
c.CourseAuthenticator.service_url = f"{service_connect_url}{SERVICE_PREFIX}"
c.CourseAuthenticator.service_token = service_token
c.CourseAuthenticator.client_id = env.get("GOOGLE_CLIENT_ID", "")
c.CourseAuthenticator.client_secret = env.get("GOOGLE_CLIENT_SECRET", "")
c.CourseAuthenticator.oidc_issuer = env.get("COURSEHUB_OIDC_ISSUER", "https://accounts.google.com")
c.CourseAuthenticator.oauth_callback_url = f"{public_url}/hub/oauth_callback"

# -- notebook servers ------------------------------------------------------------------------
c.JupyterHub.spawner_class = env.get("COURSEHUB_SPAWNER", "coursehub")
c.CourseSpawner.homes_dir = str(data_dir / "homes")
c.CourseSpawner.hidden_paths = [str(data_dir)]
# Each server in a network namespace of its own, reaching only the hub's API and the proxy
# (coursehub.hub.netbridge). "host" shares the host's loopback instead: only for debugging.
c.CourseSpawner.isolate_network = env.get("COURSEHUB_SERVER_NETWORK", "isolated") != "host"
# CourseHub's server extension (extensions/) calls the course service as the server's owner
# with the server's own hub token, so that token carries the CourseHub scopes, and every
# server learns where the service is (KubeSpawner: the service's in-cluster URL; CourseSpawner
# with isolated servers replaces it with the proxy's address in the server's namespace).
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    ACCESS_SERVICE_SCOPE,
    SCOPE_READ,
    SCOPE_WRITE,
]
# A class opening its lesson at once: on a small machine 50 JupyterLabs starting together
# answer only after a minute or more, past JupyterHub's 30 s default, and then the hub gives
# up on them (benchmarks/class_start.py measures this).
c.Spawner.http_timeout = int(env.get("COURSEHUB_SERVER_START_SECONDS", "120"))
c.Spawner.environment = {
    "COURSEHUB_SERVICE_URL": env.get(
        "COURSEHUB_SERVICE_URL", f"{service_connect_url}{SERVICE_PREFIX}"
    )
}

# -- the course service, scopes and roles ----------------------------------------------------
service_env_keys = [
    "COURSEHUB_PUBLIC_URL",
    "COURSEHUB_MAIL_FROM",
    "COURSEHUB_SMTP_HOST",
    "COURSEHUB_SMTP_PORT",
    "COURSEHUB_SMTP_USER",
    "COURSEHUB_SMTP_PASSWORD",
    "COURSEHUB_SMTP_STARTTLS",
    "COURSEHUB_MAX_NOTEBOOK_MB",
    "COURSEHUB_MAX_THUMBNAIL_MB",
    "COURSEHUB_MAX_VIDEO_MB",
    "COURSEHUB_LESSON_KERNELS_PER_PERSON",
    # Not a secret: the service only learns that Google sign-in is offered (Settings links it).
    "GOOGLE_CLIENT_ID",
    # Logs as JSON lines (coursehub.services.structured_logs).
    "COURSEHUB_LOG_FORMAT",
    # Paid courses (coursehub.services.payments.config).
    "COURSEHUB_STRIPE_SECRET_KEY",
    "COURSEHUB_STRIPE_WEBHOOK_SECRET",
    "COURSEHUB_STRIPE_API_BASE",
    "COURSEHUB_REFUND_DAYS",
    "COURSEHUB_CURRENCY",
]
lesson_env_keys = [
    "COURSEHUB_LESSON_POOL_SIZE",
    "COURSEHUB_LESSON_POOLED_LESSONS",
    "COURSEHUB_LESSON_KERNEL_UID",
]
# Notebook lessons with live widgets: a standalone Voila on loopback with pre-heated,
# sandboxed kernels. No URL, so no route in the proxy: only the course service reaches it.
lesson_service = {
    "name": LESSON_SERVICE_NAME,
    "display": False,
    "command": [sys.executable, "-m", "coursehub.services.lessons.lesson_server"],
    "environment": {
        "COURSEHUB_DATA_DIR": str(data_dir),
        "COURSEHUB_LESSON_PORT": str(lesson_port),
        "COURSEHUB_LESSON_TOKEN": lesson_token,
        **{key: env[key] for key in lesson_env_keys if key in env},
    },
}
# The proxy routes /services/coursehub/ to `url`; the hub's OAuth client and token are its.
course_service = {
    "name": SERVICE_NAME,
    "display": True,
    "url": service_connect_url,
    "api_token": service_token,
    "oauth_no_confirm": True,
    "oauth_client_allowed_scopes": [SCOPE_READ, SCOPE_WRITE],
}
if not service_external:
    course_service |= {
        "command": [sys.executable, "-m", "coursehub.services.lms"],
        # How long the hub waits for the course service to answer before giving up (and
        # `coursehub up` with it): JupyterHub's 30 s is too short on a busy machine, where its
        # processes start in over a minute.
        "timeout": int(env.get("COURSEHUB_SERVICE_START_SECONDS", "180")),
        "environment": {
            "DATABASE_URL": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
            "COURSEHUB_DATA_DIR": str(data_dir),
            "COURSEHUB_SERVICE_BIND_IP": service_bind_ip,
            "COURSEHUB_SERVICE_PORT": str(service_port),
            "COURSEHUB_COOKIE_SECRET": env["COURSEHUB_COOKIE_SECRET"],
            # The service's worker processes add up their metrics through this folder.
            "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "service-metrics"),
            **{key: env[key] for key in service_env_keys if key in env},
            "COURSEHUB_PUBLIC_URL": public_url,
            "COURSEHUB_LESSON_PORT": str(lesson_port),
            "COURSEHUB_LESSON_TOKEN": lesson_token,
        },
    }
c.JupyterHub.services = [course_service] if service_external else [lesson_service, course_service]
c.JupyterHub.custom_scopes = {
    SCOPE_READ: {"description": "Read your CourseHub courses, progress and account."},
    SCOPE_WRITE: {"description": "Act in CourseHub for you: enroll, submit, post, manage."},
}
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", ACCESS_SERVICE_SCOPE, SCOPE_READ, SCOPE_WRITE]},
    # Only hub admins may grant hub admin, and CourseHub's ADMIN role is hub admin, so the
    # course service (which pushes role changes to the hub) is an admin service.
    {"name": "admin", "services": [SERVICE_NAME]},
]
