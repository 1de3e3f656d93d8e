"""LTI in the course service: one start-up step (``init_lti``) that gives the pages this
package's templates and the launch code its synchronous Redis client (pylti1p3 runs in a
thread, off the loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from coursehub.services.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"


def init_lti(settings: Settings, app_settings: dict[str, Any]) -> None:
    app_settings["lti_redis"] = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5
    )
    jinja: Environment = app_settings["jinja"]
    loaders = [jinja.loader] if jinja.loader is not None else []
    jinja.loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
