"""The course service's settings, read once from the environment into a typed object.

Every variable is documented in README.md ("Environment variables"). Nothing else in the
service reads ``os.environ``: handlers get their settings from the application.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.hub.constants import SERVICE_PORT, SERVICE_PREFIX


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
    port: int = SERVICE_PORT
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

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

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
        smtp = None
        if env.get("COURSEHUB_SMTP_HOST"):
            smtp = SmtpSettings(
                host=env["COURSEHUB_SMTP_HOST"],
                port=int(env.get("COURSEHUB_SMTP_PORT", "587")),
                username=env.get("COURSEHUB_SMTP_USER", ""),
                password=env.get("COURSEHUB_SMTP_PASSWORD", ""),
                starttls=env.get("COURSEHUB_SMTP_STARTTLS", "1") not in ("0", "false", "no"),
            )
        return cls(
            database_url=sqlalchemy_url(env["DATABASE_URL"]),
            redis_url=env["REDIS_URL"],
            data_dir=Path(env.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve(),
            public_url=env.get("COURSEHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            port=int(env.get("COURSEHUB_SERVICE_PORT", str(SERVICE_PORT))),
            hub_api_url=env.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
            hub_api_token=env.get("JUPYTERHUB_API_TOKEN", ""),
            cookie_secret=env["COURSEHUB_COOKIE_SECRET"],
            mail_from=env.get("COURSEHUB_MAIL_FROM", "CourseHub <no-reply@coursehub.example>"),
            smtp=smtp,
        )


def sqlalchemy_url(url: str) -> str:
    """Point a plain ``postgresql://`` URL at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
