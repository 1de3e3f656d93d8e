"""Refunds: asked by an administrator (any time) or the course's instructor (within the
refund window), made through the provider. The provider's "refunded" webhook then ends the
enrolment (``payment_events``); a refund asked twice is refused with a clear sentence."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course
from coursehub.services.models.payments import Payment, PaymentStatus
from coursehub.services.payments.provider import PaymentProvider, ProviderError

ALREADY = "This payment has already been refunded (or its refund is under way); nothing changed."


async def may_refund(
    session: AsyncSession, actor: Account, payment: Payment, refund_days: int, now: datetime
) -> None:
    """Refuse unless ``actor`` may refund ``payment`` now."""
    if actor.role is Role.ADMIN:
        return
    course = await session.get(Course, payment.course_id) if payment.course_id else None
    if course is None or course.instructor_id != actor.id:
        raise Refusal("There is no such payment among your courses' sales.", 404)
    if payment.paid_at + timedelta(days=refund_days) < now:
        raise Refusal(
            f"This payment is more than {refund_days} days old, so only an administrator can "
            "refund it now. Ask one.",
            403,
        )


async def request_refund(
    session: AsyncSession,
    provider: PaymentProvider,
    actor: Account,
    payment_id: int,
    refund_days: int,
    now: datetime,
) -> Payment:
    """Refund the payment through the provider. Commits: the refund is marked as asked
    before the provider is called (so a second request is refused even while the first is
    under way) and unmarked if the provider refuses."""
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise Refusal("There is no such payment.", 404)
    await may_refund(session, actor, payment, refund_days, now)
    claimed = await session.scalar(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == PaymentStatus.PAID,
            Payment.refund_requested_at.is_(None),
        )
        .values(refund_requested_at=now, refund_requested_by_id=actor.id)
        .returning(Payment.id)
    )
    if claimed is None:
        raise Refusal(ALREADY, 409)
    audit_log.record(
        session,
        actor,
        "payment.refund",
        ("payment", payment.id),
        before={"status": payment.status.value},
        after={"status": "REFUND_REQUESTED"},
        reason=f"{payment.amount_cents} {payment.currency} for {payment.course_title}",
        course_id=payment.course_id,
    )
    await session.commit()
    try:
        await provider.refund(payment.payment_ref, f"coursehub-refund-{payment.id}")
    except (ProviderError, Refusal) as error:
        audit_log.record(
            session,
            actor,
            "payment.refund_failed",
            ("payment", payment.id),
            before={"status": "REFUND_REQUESTED"},
            after={"status": payment.status.value},
            reason=error.message,
            course_id=payment.course_id,
        )
        await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == PaymentStatus.PAID)
            .values(refund_requested_at=None, refund_requested_by_id=None)
        )
        await session.commit()
        raise
    await session.refresh(payment)
    return payment
