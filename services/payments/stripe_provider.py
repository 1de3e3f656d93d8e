"""Stripe Checkout through the official ``stripe`` library: the one provider CourseHub has.

Checkout Sessions are created with the course, its price and currency as inline
``price_data`` (no Stripe catalogue to keep in step) and ``allow_promotion_codes``, so the
coupons made in Stripe's dashboard work on the hosted page. Webhooks are verified with
``stripe.Webhook.construct_event`` (the endpoint secret and a timestamp tolerance), exactly as
Stripe's documentation does; only then are they read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import stripe

from coursehub.services.errors import Refusal
from coursehub.services.payments.config import PaymentSettings
from coursehub.services.payments.provider import (
    BadWebhook,
    CheckoutProgress,
    CheckoutRequest,
    CheckoutStarted,
    CompletedCheckout,
    ProviderError,
    ProviderEvent,
)

log = logging.getLogger(__name__)

UNREACHABLE = (
    "CourseHub could not reach the payment provider, so nothing was charged. Try again in a minute."
)


class StripeProvider:
    name = "stripe"
    label = "Stripe"

    def __init__(self, settings: PaymentSettings) -> None:
        self.webhook_secret = settings.stripe_webhook_secret
        self.tolerance = settings.webhook_tolerance_seconds
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(
            settings.stripe_secret_key, base_addresses=base or {}, max_network_retries=2
        )

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutStarted:
        metadata = {
            "course_id": str(request.course_id),
            "account_id": str(request.account_id or ""),
            "currency": request.currency,
            "price_cents": str(request.amount_cents),
        }
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.course_title},
                    },
                }
            ],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "allow_promotion_codes": True,
            "client_reference_id": f"course-{request.course_id}",
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if request.email:
            params["customer_email"] = request.email
        try:
            session = await self.client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        except stripe.StripeError as error:
            log.warning("Stripe refused a Checkout Session: %s", error)
            raise ProviderError(UNREACHABLE) from None
        return CheckoutStarted(checkout_id=session.id, url=str(session.url))

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        signature = headers.get("Stripe-Signature")
        if not signature:
            raise BadWebhook("The request has no Stripe-Signature header.")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self.webhook_secret, tolerance=self.tolerance
            )
        except stripe.SignatureVerificationError as error:
            raise BadWebhook(
                f"The webhook signature does not verify: {error.user_message}"
            ) from None
        except ValueError:
            raise BadWebhook("The webhook body is not a Stripe event.") from None
        raw = json.loads(payload)
        obj = raw.get("data", {}).get("object", {})
        # A delayed payment method (a bank debit) completes the session unpaid and pays later.
        if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            return ProviderEvent(
                self.name, event.id, "checkout_completed", event.type, checkout=_checkout(obj)
            )
        if event.type == "charge.refunded":
            full = bool(obj.get("refunded"))
            return ProviderEvent(
                self.name,
                event.id,
                "refunded" if full else "other",
                event.type,
                refunded_payment_ref=str(obj.get("payment_intent") or ""),
            )
        return ProviderEvent(self.name, event.id, "other", event.type)

    async def refund(self, payment_ref: str, idempotency_key: str) -> str:
        try:
            refund = await self.client.v1.refunds.create_async(
                {"payment_intent": payment_ref}, {"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            if error.code == "charge_already_refunded":
                raise Refusal("This payment has already been refunded.", 409) from None
            log.warning("Stripe refused a refund of %s: %s", payment_ref, error)
            raise ProviderError(
                f"The payment provider refused the refund: {error.user_message}", 409
            ) from None
        except stripe.StripeError as error:
            log.warning("Refund of %s failed: %s", payment_ref, error)
            raise ProviderError(
                "CourseHub could not reach the payment provider; nothing was refunded. Try "
                "again in a minute."
            ) from None
        return refund.id

    async def checkout_progress(self, checkout_id: str) -> CheckoutProgress:
        """The Checkout Session's ``status`` and ``payment_status`` and, for a completed session
        that is not paid yet, its PaymentIntent's status (a bank debit that failed leaves the
        session complete and unpaid; only the intent says it failed)."""
        try:
            session = await self.client.v1.checkout.sessions.retrieve_async(
                checkout_id, {"expand": ["payment_intent"]}
            )
        except stripe.StripeError as error:
            log.info("Could not ask Stripe about checkout %s: %s", checkout_id, error)
            return CheckoutProgress.UNKNOWN
        if session.status == "expired":
            return CheckoutProgress.EXPIRED
        if session.status == "open":
            return CheckoutProgress.OPEN
        if session.payment_status in ("paid", "no_payment_required"):
            return CheckoutProgress.PAID
        intent = session.payment_intent
        intent_status = getattr(intent, "status", None) if intent is not None else None
        if intent_status in ("requires_payment_method", "canceled"):
            return CheckoutProgress.FAILED
        return CheckoutProgress.PROCESSING


def _checkout(obj: Mapping[str, Any]) -> CompletedCheckout:
    details = obj.get("customer_details") or {}
    totals = obj.get("total_details") or {}
    discounts = obj.get("discounts") or []
    promotion = ""
    if discounts and isinstance(discounts[0], Mapping):
        promotion = str(discounts[0].get("promotion_code") or discounts[0].get("coupon") or "")
    return CompletedCheckout(
        checkout_id=str(obj.get("id", "")),
        payment_ref=str(obj.get("payment_intent") or ""),
        paid=obj.get("payment_status") == "paid",
        currency=str(obj.get("currency", "")).lower(),
        amount_cents=int(obj.get("amount_total") or 0),
        discount_cents=int(totals.get("amount_discount") or 0),
        email=str(details.get("email") or obj.get("customer_email") or ""),
        name=str(details.get("name") or ""),
        promotion_code=promotion,
        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
    )


def provider_for(settings: PaymentSettings) -> StripeProvider | None:
    """The configured provider, or None when payments are off (no keys)."""
    return StripeProvider(settings) if settings.enabled else None
