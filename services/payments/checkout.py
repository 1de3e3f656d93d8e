"""Starting a purchase: "Buy" on a paid course becomes a provider checkout (or, for staff, a
free enrolment), and the success page asks how the purchase stands."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.courses import enrollment
from coursehub.services.courses.enrollment import EnrollmentResult
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, CourseStatus
from coursehub.services.models.payments import Payment, PaymentStatus
from coursehub.services.payments.config import PaymentSettings
from coursehub.services.payments.prices import check_currency, price_in
from coursehub.services.payments.provider import (
    CheckoutProgress,
    CheckoutRequest,
    CheckoutStarted,
    PaymentProvider,
)
from coursehub.services.settings import Settings

# Stripe puts the session's id where the success address says this.
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
STAFF_ROLES = (Role.INSTRUCTOR, Role.ADMIN)
# The provider is asked about one checkout at most this often, however many pages wait for it.
PROGRESS_SECONDS = 5.0
PROGRESS_REMEMBERED = 1000


def buyable(course: Course) -> None:
    if course.status is not CourseStatus.PUBLISHED:
        raise Refusal(f"{course.title} is not on sale: it is not published.", 409)
    if course.price_cents <= 0:
        raise Refusal(f"{course.title} is free: enroll on its page, no payment needed.", 409)


async def start(
    session: AsyncSession,
    provider: PaymentProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    course: Course,
    buyer: Account | None,
    currency: str,
) -> CheckoutStarted | EnrollmentResult:
    """A checkout for ``course`` in ``currency`` (``buyer`` None: a visitor, whose account is
    made from the email they give the provider). Staff take it free: an ``EnrollmentResult``
    (the caller commits)."""
    buyable(course)
    currency = check_currency(currency or payment_settings.currency)
    if buyer is not None:
        if await enrollment.is_enrolled(session, buyer, course):
            raise Refusal(f"You are already enrolled in {course.title}.", 409)
        conflict = await enrollment.teaching_conflict(session, buyer, course)
        if conflict is not None:
            raise conflict
        if buyer.role in STAFF_ROLES:
            return await enrollment.enroll(session, buyer, course, paid_for=True)
    price = await price_in(session, course, currency, payment_settings.currency)
    base = f"{settings.public_url}{settings.service_prefix}"
    request = CheckoutRequest(
        course_id=course.id,
        course_title=course.title,
        currency=price.currency,
        amount_cents=price.amount_cents,
        success_url=f"{base}/payments/success?session_id={SESSION_PLACEHOLDER}",
        cancel_url=f"{base}/payments/cancelled?course={course.slug}",
        account_id=buyer.id if buyer is not None else None,
        email=(buyer.email or "") if buyer is not None else "",
    )
    return await provider.create_checkout(request)


@dataclass(frozen=True)
class CheckoutState:
    # pending (no payment recorded yet), enrolled, paid (not enrolled), refunded; and, from the
    # provider while nothing is recorded: failed, not_paid (cancelled, abandoned or expired)
    state: str
    course_url: str | None = None
    course_title: str = ""
    set_password: bool = False
    # While pending: what the provider says (paid, processing, unknown; "" when not asked)
    provider_state: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "provider_state": self.provider_state,
            "course_url": self.course_url,
            "course_title": self.course_title,
            "set_password": self.set_password,
        }


async def state_of(session: AsyncSession, checkout_id: str, prefix: str) -> CheckoutState:
    """How the purchase with this checkout stands: the success page asks until it is not
    ``pending`` (the provider's webhook may come before or after the buyer returns)."""
    payment = await session.scalar(select(Payment).where(Payment.checkout_id == checkout_id))
    if payment is None:
        return CheckoutState("pending")
    course = await session.get(Course, payment.course_id) if payment.course_id else None
    account = await session.get(Account, payment.account_id) if payment.account_id else None
    url = f"{prefix}/courses/{course.slug}" if course else None
    if payment.status is PaymentStatus.REFUNDED:
        return CheckoutState("refunded", url, payment.course_title)
    enrolled = (
        account is not None
        and course is not None
        and await enrollment.is_enrolled(session, account, course)
    )
    return CheckoutState(
        "enrolled" if enrolled else "paid",
        url,
        payment.course_title,
        set_password=account is not None
        and account.password_hash is None
        and account.google_subject is None,
    )


_progress: dict[str, tuple[float, CheckoutProgress]] = {}


async def progress_at_provider(provider: PaymentProvider, checkout_id: str) -> CheckoutProgress:
    """What the provider says about the checkout, asked at most every few seconds per checkout
    (the waiting page asks CourseHub often; Stripe need not be)."""
    now = time.monotonic()
    known = _progress.get(checkout_id)
    if known is not None and now - known[0] < PROGRESS_SECONDS:
        return known[1]
    progress = await provider.checkout_progress(checkout_id)
    if len(_progress) >= PROGRESS_REMEMBERED:
        for stale in [key for key, (at, _) in _progress.items() if now - at >= PROGRESS_SECONDS]:
            del _progress[stale]
        if len(_progress) >= PROGRESS_REMEMBERED:
            _progress.clear()
    _progress[checkout_id] = (now, progress)
    return progress


async def with_provider_progress(
    state: CheckoutState, provider: PaymentProvider | None, checkout_id: str
) -> CheckoutState:
    """A pending purchase (no webhook yet) told apart by what the provider says: paid and on
    its way, settling later, failed, or never paid (the buyer cancelled or the checkout
    expired). Call it outside a database transaction: it may wait for the provider."""
    if state.state != "pending" or provider is None:
        return state
    progress = await progress_at_provider(provider, checkout_id)
    if progress is CheckoutProgress.FAILED:
        return CheckoutState("failed", provider_state=progress.value)
    if progress in (CheckoutProgress.OPEN, CheckoutProgress.EXPIRED):
        return CheckoutState("not_paid", provider_state=progress.value)
    return CheckoutState("pending", provider_state=progress.value)
