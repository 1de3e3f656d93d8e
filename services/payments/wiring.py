"""Payments in the course service: one start-up step (``init_payments``) that reads the
payment settings, makes the provider (None without keys) and gives the pages this package's
templates and ``payments_enabled``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from coursehub.services.payments.config import PaymentSettings
from coursehub.services.payments.stripe_provider import provider_for
from coursehub.services.settings import Settings

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def init_payments(settings: Settings, app_settings: dict[str, Any]) -> None:
    payment_settings = PaymentSettings.from_env()
    app_settings["payment_settings"] = payment_settings
    app_settings["payment_provider"] = provider_for(payment_settings)
    jinja: Environment = app_settings["jinja"]
    loaders = [jinja.loader] if jinja.loader is not None else []
    jinja.loader = ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))])
    jinja.globals["payments_enabled"] = payment_settings.enabled
