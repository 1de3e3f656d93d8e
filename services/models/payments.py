"""Payments for paid courses: a course's prices in other currencies, the payments received
through a provider (Stripe Checkout), the provider events already handled, and the sequence
that numbers receipts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    Sequence,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow

# Receipts are numbered from one sequence: numbers are unique and increase with each payment
# (a rolled-back payment may leave a gap, as every database sequence does).
INVOICE_NUMBERS = Sequence("payment_invoice_numbers", start=1)


class PaymentStatus(enum.StrEnum):
    PAID = "PAID"
    REFUNDED = "REFUNDED"


class CoursePrice(Base):
    """The price of a paid course in a currency other than CourseHub's default (the course's
    own ``price_cents``, in the default currency)."""

    __tablename__ = "course_prices"
    __table_args__ = (
        UniqueConstraint("course_id", "currency"),
        CheckConstraint("amount_cents > 0", name="course_prices_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)


class Payment(Base):
    """A payment for a course, recorded from the provider's "checkout completed" event in the
    transaction that enrolls its payer."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_number: Mapped[int] = mapped_column(
        Integer, INVOICE_NUMBERS, server_default=INVOICE_NUMBERS.next_value(), unique=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    # The provider's checkout (Stripe: the Checkout Session id) and payment (PaymentIntent).
    checkout_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_ref: Mapped[str] = mapped_column(String(255), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    # What was paid, as the provider says (a price changed since does not matter).
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    promotion_code: Mapped[str] = mapped_column(String(100), default="", server_default="")
    email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    course_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(PaymentStatus, name="payment_status"),
        default=PaymentStatus.PAID,
        server_default=PaymentStatus.PAID.value,
    )
    paid_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    refund_requested_at: Mapped[datetime | None]
    refund_requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    refunded_at: Mapped[datetime | None]


class PaymentEvent(Base):
    """A provider event already handled: a webhook delivered again changes nothing."""

    __tablename__ = "payment_events"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
