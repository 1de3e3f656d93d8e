"""What a verified provider event does: a completed checkout records the payment and enrolls
its payer in one transaction; a refunded charge ends the enrolment and tells the student.

Each event is handled once: its id is inserted first (``payment_events``), in the same
transaction, so a webhook delivered twice, or by two processes at once, changes nothing the
second time. A payment is also unique by its checkout, so no event can pay twice. What was
paid is what the provider says was paid: a price changed since the checkout began does not
matter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.accounts import accounts
from coursehub.services.courses import enrollment
from coursehub.services.courses.enrollment import EnrollmentError
from coursehub.services.models import Account, Course, utcnow
from coursehub.services.models.payments import (
    INVOICE_NUMBERS,
    Payment,
    PaymentEvent,
    PaymentStatus,
)
from coursehub.services.notifications import notifications
from coursehub.services.payments.provider import CompletedCheckout, ProviderEvent
from coursehub.services.payments.receipts import compose_receipt, compose_set_password
from coursehub.services.settings import Settings

log = logging.getLogger(__name__)

SET_PASSWORD_DAYS = 7


class IgnoredEvent(Exception):
    """An event CourseHub cannot act on (an unknown course, no payer): logged, answered 200
    so the provider stops sending it, and nothing is recorded."""


@dataclass
class Outcome:
    result: str  # enrolled, paid, refunded, duplicate, ignored
    payment_id: int | None = None
    mail: list[EmailMessage] = field(default_factory=list)


async def handle_event(
    session: AsyncSession, event: ProviderEvent, settings: Settings, now: datetime | None = None
) -> Outcome:
    """Act on ``event`` in ``session``'s transaction (the caller commits, and sends ``mail``
    after the commit). Raises ``IgnoredEvent`` when the caller should roll back."""
    now = now or utcnow()
    if event.kind == "other":
        return Outcome("ignored")
    claimed = await session.scalar(
        insert(PaymentEvent)
        .values(provider=event.provider, event_id=event.event_id, kind=event.raw_type)
        .on_conflict_do_nothing()
        .returning(PaymentEvent.event_id)
    )
    if claimed is None:
        return Outcome("duplicate")
    if event.kind == "checkout_completed" and event.checkout is not None:
        return await _checkout_completed(session, event.provider, event.checkout, settings, now)
    return await _refunded(session, event.refunded_payment_ref, now)


async def _course_of(session: AsyncSession, checkout: CompletedCheckout) -> Course:
    raw = checkout.metadata.get("course_id", "")
    course = await session.get(Course, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if course is None:
        raise IgnoredEvent(
            f"checkout {checkout.checkout_id} names no course CourseHub has ({raw!r})"
        )
    return course


async def _payer(
    session: AsyncSession, checkout: CompletedCheckout, settings: Settings, now: datetime
) -> tuple[Account, list[EmailMessage]]:
    """The account that paid: the signed-in buyer, else the account with the checkout's
    email, else a new one made from it with a set-password link."""
    raw = checkout.metadata.get("account_id", "")
    if raw.isdigit() and len(raw) < 10:
        account = await session.get(Account, int(raw))
        if account is not None:
            return account, []
    try:
        email = accounts.normalise_email(checkout.email)
    except accounts.AccountError:
        raise IgnoredEvent(f"checkout {checkout.checkout_id} has no usable email") from None
    account = await accounts.find_by_email(session, email)
    if account is not None:
        return account, []
    account = Account(
        username=await accounts.unique_username(session, email),
        email=email,
        name=(checkout.name or email.split("@")[0])[:200],
        password_hash=None,
        role=Role.STUDENT,
    )
    session.add(account)
    await session.flush()
    started = await accounts.start_password_reset(
        session, email, timedelta(days=SET_PASSWORD_DAYS), now
    )
    assert started is not None  # the account was just made
    course_title = await _title(session, checkout)
    message = compose_set_password(
        settings, email, account.name, started[1], course_title, SET_PASSWORD_DAYS
    )
    return account, [message]


async def _title(session: AsyncSession, checkout: CompletedCheckout) -> str:
    course = await _course_of(session, checkout)
    return course.title


async def _checkout_completed(
    session: AsyncSession,
    provider: str,
    checkout: CompletedCheckout,
    settings: Settings,
    now: datetime,
) -> Outcome:
    if not checkout.paid:
        return Outcome("ignored")
    known = await session.scalar(
        select(Payment.id).where(Payment.checkout_id == checkout.checkout_id)
    )
    if known is not None:
        return Outcome("duplicate", known)
    course = await _course_of(session, checkout)
    account, mail = await _payer(session, checkout, settings, now)
    payment = Payment(
        invoice_number=await session.scalar(select(INVOICE_NUMBERS.next_value())),
        provider=provider,
        checkout_id=checkout.checkout_id,
        payment_ref=checkout.payment_ref,
        account_id=account.id,
        course_id=course.id,
        currency=checkout.currency,
        amount_cents=checkout.amount_cents,
        discount_cents=checkout.discount_cents,
        promotion_code=checkout.promotion_code[:100],
        email=account.email or checkout.email,
        course_title=course.title[:200],
        status=PaymentStatus.PAID,
        paid_at=now,
    )
    session.add(payment)
    await session.flush()
    result = "enrolled"
    try:
        await enrollment.enroll(session, account, course, paid_for=True)
    except EnrollmentError as error:
        # The money is taken: the payment stays on record for a refund from the sales page.
        log.warning("Payment %s recorded but not enrolled: %s", payment.id, error.message)
        result = "paid"
    mail.append(compose_receipt(settings, payment, account.name))
    return Outcome(result, payment.id, mail)


async def _refunded(session: AsyncSession, payment_ref: str, now: datetime) -> Outcome:
    payment = await session.scalar(
        select(Payment).where(Payment.payment_ref == payment_ref).with_for_update()
    )
    if payment is None:
        raise IgnoredEvent(f"a refund of {payment_ref!r}, which is no payment CourseHub has")
    if payment.status is PaymentStatus.REFUNDED:
        return Outcome("duplicate", payment.id)
    payment.status = PaymentStatus.REFUNDED
    payment.refunded_at = now
    account = await session.get(Account, payment.account_id) if payment.account_id else None
    course = await session.get(Course, payment.course_id) if payment.course_id else None
    if account is not None and course is not None:
        try:
            await enrollment.unenroll(session, account, course)
        except EnrollmentError as error:
            log.warning("Refunded payment %s: enrolment not ended: %s", payment.id, error.message)
        notifications.add(
            session,
            account.id,
            "payment_refunded",
            {
                "title": f"Your payment for {course.title} is refunded; the course is closed "
                "to you. Your progress is kept if you buy it again.",
                "url": f"{SERVICE_PREFIX}/payments",
                "course": course.slug,
                "payment_id": payment.id,
            },
        )
    return Outcome("refunded", payment.id)
