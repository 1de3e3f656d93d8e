"""The course service's settings, read once from the environment into a typed object.

Every variable is documented in README.md ("Environment variables"). Nothing else in the
service reads ``os.environ``: handlers get their settings from the application.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.hub.constants import LESSON_SERVER_PORT, SERVICE_PORT, SERVICE_PREFIX

MB = 1_000_000


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    data_dir: Path
    public_url: str = "http://127.0.0.1:8000"
    service_prefix: str = SERVICE_PREFIX
    # The address the service listens on: loopback on one machine (the hub and its proxy are
    # beside it); all addresses ("0.0.0.0") when the proxy and hub reach it from other pods.
    bind_ip: str = "127.0.0.1"
    port: int = SERVICE_PORT
    # Worker processes of the course service (one event loop each).
    processes: int = 1
    hub_api_url: str = "http://127.0.0.1:8081/hub/api"
    # The service's own hub token; the hub's authenticator presents it on internal calls.
    hub_api_token: str = field(default="", repr=False)
    # Signs the service's sign-in cookies; shared by every service process.
    cookie_secret: str = field(default="", repr=False)
    mail_from: str = "CourseHub <no-reply@coursehub.example>"
    smtp: SmtpSettings | None = None
    max_login_failures: int = 5
    lockout_minutes: int = 15
    reset_link_minutes: int = 60
    # Upload limits in bytes (the environment gives megabytes, 1 MB = 1,000,000 bytes).
    max_notebook_bytes: int = 20 * MB
    max_thumbnail_bytes: int = 5 * MB
    max_video_bytes: int = 500 * MB

    # The lesson server (standalone Voilà) on loopback, and the token it asks of every request.
    lesson_server_url: str = f"http://127.0.0.1:{LESSON_SERVER_PORT}"
    lesson_server_token: str = field(default="", repr=False)
    # Lesson kernels one person (or one signed-out visitor's address) may hold at once.
    lesson_kernels_per_person: int = 2
    # Whether the hub offers Google sign-in (a client id is configured): Settings offers linking.
    google_sign_in: bool = False

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def lessons_dir(self) -> Path:
        """Published notebook versions as files, for the lesson server."""
        return self.data_dir / "lessons"

    @property
    def course_files_dir(self) -> Path:
        """Each course's data files (``<course id>/...``), next to its lessons' notebooks."""
        return self.data_dir / "course-files"

    @property
    def uploads_dir(self) -> Path:
        """Thumbnails and videos, under names the service chose."""
        return self.data_dir / "uploads"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        required = ("DATABASE_URL", "REDIS_URL", "COURSEHUB_COOKIE_SECRET")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} must be set for the course service; "
                "`coursehub up` sets them (starting embedded servers when you give none)."
            )
        smtp = smtp_from_env(env)
        return cls(
            database_url=sqlalchemy_url(env["DATABASE_URL"]),
            redis_url=env["REDIS_URL"],
            data_dir=Path(env.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve(),
            public_url=env.get("COURSEHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            bind_ip=bind_ip_from_env(env),
            port=int(env.get("COURSEHUB_SERVICE_PORT", str(SERVICE_PORT))),
            processes=max(1, int(env.get("COURSEHUB_SERVICE_PROCESSES", "0") or 0) or _cpus()),
            hub_api_url=env.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
            hub_api_token=env.get("JUPYTERHUB_API_TOKEN", ""),
            cookie_secret=env["COURSEHUB_COOKIE_SECRET"],
            mail_from=env.get("COURSEHUB_MAIL_FROM", "CourseHub <no-reply@coursehub.example>"),
            smtp=smtp,
            lesson_server_url="http://127.0.0.1:"
            + env.get("COURSEHUB_LESSON_PORT", str(LESSON_SERVER_PORT)),
            lesson_server_token=env.get("COURSEHUB_LESSON_TOKEN", ""),
            lesson_kernels_per_person=int(env.get("COURSEHUB_LESSON_KERNELS_PER_PERSON", "2")),
            google_sign_in=bool(env.get("GOOGLE_CLIENT_ID", "").strip()),
            max_notebook_bytes=megabytes(env, "COURSEHUB_MAX_NOTEBOOK_MB", 20),
            max_thumbnail_bytes=megabytes(env, "COURSEHUB_MAX_THUMBNAIL_MB", 5),
            max_video_bytes=megabytes(env, "COURSEHUB_MAX_VIDEO_MB", 500),
        )


def smtp_from_env(env: dict[str, str]) -> SmtpSettings | None:
    """The SMTP server from ``COURSEHUB_SMTP_*`` (None: mail goes to the outbox folder)."""
    if not env.get("COURSEHUB_SMTP_HOST"):
        return None
    return SmtpSettings(
        host=env["COURSEHUB_SMTP_HOST"],
        port=int(env.get("COURSEHUB_SMTP_PORT", "587")),
        username=env.get("COURSEHUB_SMTP_USER", ""),
        password=env.get("COURSEHUB_SMTP_PASSWORD", ""),
        starttls=env.get("COURSEHUB_SMTP_STARTTLS", "1") not in ("0", "false", "no"),
    )


def bind_ip_from_env(env: dict[str, str]) -> str:
    """``COURSEHUB_SERVICE_BIND_IP``: an IPv4 or IPv6 address (default loopback); anything
    else stops the service with a sentence naming the variable."""
    raw = env.get("COURSEHUB_SERVICE_BIND_IP", "").strip() or "127.0.0.1"
    try:
        return str(ipaddress.ip_address(raw.strip("[]")))
    except ValueError:
        raise RuntimeError(
            f"COURSEHUB_SERVICE_BIND_IP must be an IP address to listen on (127.0.0.1 for this "
            f"machine only, 0.0.0.0 for every address), not {raw!r}."
        ) from None


def megabytes(env: dict[str, str], name: str, default: float) -> int:
    """A size limit given in megabytes, as bytes; a typo stops the service with its name."""
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise RuntimeError(f"{name} must be a number of megabytes, not {raw!r}.") from None
    if value <= 0:
        raise RuntimeError(f"{name} must be more than 0 megabytes.")
    return int(value * MB)


def sqlalchemy_url(url: str) -> str:
    """Point a plain ``postgresql://`` URL at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def data_dir_from_env() -> Path:
    """``COURSEHUB_DATA_DIR`` (default ``.coursehub``), for the commands run without Settings."""
    return Path(os.environ.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve()
