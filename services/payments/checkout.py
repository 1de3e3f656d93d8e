"""Starting a purchase: "Buy" on a paid course becomes a provider checkout (or, for staff, a
free enrolment), and the success page asks how the purchase stands."""

from __future__ import annotations

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
from coursehub.services.payments.provider import CheckoutRequest, CheckoutStarted, PaymentProvider
from coursehub.services.settings import Settings

# Stripe puts the session's id where the success address says this.
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
STAFF_ROLES = (Role.INSTRUCTOR, Role.ADMIN)


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
        cancel_url=f"{base}/courses/{course.slug}",
        account_id=buyer.id if buyer is not None else None,
        email=(buyer.email or "") if buyer is not None else "",
    )
    return await provider.create_checkout(request)


@dataclass(frozen=True)
class CheckoutState:
    state: str  # pending (no payment recorded yet), enrolled, paid, refunded
    course_url: str | None = None
    course_title: str = ""
    set_password: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
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
