"""The payment-provider seam: the one interface CourseHub's payment code talks to.

A provider starts a hosted checkout, says how one stands (for the page that waits for its
webhook), turns a webhook request into a verified ``ProviderEvent``
(or refuses it), and refunds a payment. Everything else (recording payments, enrolling,
receipts) knows only these types, so another provider is one more implementation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from coursehub.services.errors import Refusal


class BadWebhook(Refusal):
    """A webhook request that does not verify (bad or missing signature, stale timestamp,
    not an event): answered 400, nothing recorded."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 400)


class ProviderError(Refusal):
    """The provider refused or could not be reached; the message says what to do."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message, status)


@dataclass(frozen=True)
class CheckoutRequest:
    course_id: int
    course_title: str
    currency: str
    amount_cents: int
    success_url: str
    cancel_url: str
    account_id: int | None = None
    email: str = ""


@dataclass(frozen=True)
class CheckoutStarted:
    checkout_id: str
    url: str


@dataclass(frozen=True)
class CompletedCheckout:
    checkout_id: str
    payment_ref: str
    paid: bool
    currency: str
    amount_cents: int
    discount_cents: int
    email: str
    name: str
    promotion_code: str
    metadata: Mapping[str, str] = field(default_factory=dict)


class CheckoutProgress(enum.StrEnum):
    """How a checkout stands at the provider, for a buyer waiting for its webhook."""

    OPEN = "open"  # not paid yet: the buyer has not finished (or left) the hosted page
    PAID = "paid"  # the provider has the money; its webhook enrolls
    PROCESSING = "processing"  # completed with a payment that settles later (a bank debit)
    FAILED = "failed"  # the payment did not go through: nothing was charged
    EXPIRED = "expired"  # abandoned or cancelled: nothing was charged
    UNKNOWN = "unknown"  # the provider could not be asked, or does not know the checkout


@dataclass(frozen=True)
class ProviderEvent:
    """A verified event. ``kind`` is ``checkout_completed``, ``refunded`` or ``other``."""

    provider: str
    event_id: str
    kind: str
    raw_type: str
    checkout: CompletedCheckout | None = None
    refunded_payment_ref: str = ""


class PaymentProvider(Protocol):
    name: str
    label: str  # as buyers know it: "Stripe"

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutStarted: ...

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...

    async def refund(self, payment_ref: str, idempotency_key: str) -> str: ...

    async def checkout_progress(self, checkout_id: str) -> CheckoutProgress: ...
