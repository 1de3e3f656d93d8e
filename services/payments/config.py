"""How payments are configured, read once from the environment at start-up.

``COURSEHUB_STRIPE_SECRET_KEY`` and ``COURSEHUB_STRIPE_WEBHOOK_SECRET`` turn Stripe Checkout
on; without both, paid courses say that payment is not available. ``COURSEHUB_STRIPE_API_BASE``
points the Stripe library elsewhere (the tests' local stand-in). ``COURSEHUB_REFUND_DAYS``
is how long after a payment its course's instructor may refund it (administrators may refund
at any time), ``COURSEHUB_CURRENCY`` the currency of a course's own price.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CURRENCY = "usd"
DEFAULT_REFUND_DAYS = 14
# Webhook signatures older than this many seconds are refused (Stripe's own default).
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class PaymentSettings:
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = ""
    refund_days: int = DEFAULT_REFUND_DAYS
    currency: str = DEFAULT_CURRENCY
    webhook_tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS

    @property
    def enabled(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PaymentSettings:
        env = os.environ if env is None else env
        raw_days = env.get("COURSEHUB_REFUND_DAYS", "").strip()
        try:
            days = int(raw_days) if raw_days else DEFAULT_REFUND_DAYS
        except ValueError:
            raise RuntimeError(
                f"COURSEHUB_REFUND_DAYS must be a whole number of days, not {raw_days!r}."
            ) from None
        if days < 0:
            raise RuntimeError("COURSEHUB_REFUND_DAYS must be 0 or more days.")
        currency = env.get("COURSEHUB_CURRENCY", DEFAULT_CURRENCY).strip().lower()
        if len(currency) != 3 or not currency.isalpha():
            raise RuntimeError(f"COURSEHUB_CURRENCY must be a 3-letter code, not {currency!r}.")
        return cls(
            stripe_secret_key=env.get("COURSEHUB_STRIPE_SECRET_KEY", "").strip(),
            stripe_webhook_secret=env.get("COURSEHUB_STRIPE_WEBHOOK_SECRET", "").strip(),
            stripe_api_base=env.get("COURSEHUB_STRIPE_API_BASE", "").strip().rstrip("/"),
            refund_days=days,
            currency=currency,
        )
