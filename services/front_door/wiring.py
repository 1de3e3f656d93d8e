"""The front door in the course service: one start-up step (``init_front_door``) that gives
the pages this package's templates (they extend the service's ``base.html``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from coursehub.services.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"


def init_front_door(settings: Settings, app_settings: dict[str, Any]) -> None:
    jinja: Environment = app_settings["jinja"]
    loaders = [jinja.loader] if jinja.loader is not None else []
    jinja.loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
