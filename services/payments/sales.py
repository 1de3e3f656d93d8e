"""Purchase history (a person's own payments) and sales (instructors: their courses';
administrators: all), as rows and as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Course
from coursehub.services.models.payments import Payment
from coursehub.services.payments.prices import decimal_amount, format_amount
from coursehub.services.payments.receipts import invoice_label

CSV_COLUMNS = (
    "invoice",
    "paid_at",
    "course",
    "buyer_email",
    "currency",
    "amount",
    "discount",
    "promotion_code",
    "status",
    "refunded_at",
)


@dataclass(frozen=True)
class Sale:
    id: int
    invoice: str
    paid_at: datetime
    course_title: str
    course_slug: str | None
    email: str
    currency: str
    amount_cents: int
    discount_cents: int
    promotion_code: str
    status: str
    refund_requested: bool
    refunded_at: datetime | None

    @property
    def amount(self) -> str:
        return format_amount(self.amount_cents, self.currency)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "invoice": self.invoice,
            "paid_at": self.paid_at.isoformat(),
            "course": self.course_title,
            "course_slug": self.course_slug,
            "email": self.email,
            "currency": self.currency,
            "amount_cents": self.amount_cents,
            "amount": self.amount,
            "discount_cents": self.discount_cents,
            "promotion_code": self.promotion_code,
            "status": self.status,
            "refund_requested": self.refund_requested,
            "refunded_at": self.refunded_at.isoformat() if self.refunded_at else None,
        }


def sale_of(payment: Payment, slug: str | None) -> Sale:
    return Sale(
        id=payment.id,
        invoice=invoice_label(payment.invoice_number),
        paid_at=payment.paid_at,
        course_title=payment.course_title,
        course_slug=slug,
        email=payment.email,
        currency=payment.currency,
        amount_cents=payment.amount_cents,
        discount_cents=payment.discount_cents,
        promotion_code=payment.promotion_code,
        status=payment.status.value,
        refund_requested=payment.refund_requested_at is not None,
        refunded_at=payment.refunded_at,
    )


async def purchases_of(session: AsyncSession, account: Account) -> list[Sale]:
    rows = await session.execute(
        select(Payment, Course.slug)
        .outerjoin(Course, Course.id == Payment.course_id)
        .where(Payment.account_id == account.id)
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
    )
    return [sale_of(payment, slug) for payment, slug in rows]


async def sales_for(session: AsyncSession, viewer: Account) -> list[Sale]:
    """Every sale for an administrator; an instructor's own courses' sales otherwise."""
    statement = (
        select(Payment, Course.slug)
        .outerjoin(Course, Course.id == Payment.course_id)
        .order_by(Payment.paid_at.desc(), Payment.id.desc())
    )
    if viewer.role is not Role.ADMIN:
        statement = statement.where(Course.instructor_id == viewer.id)
    rows = await session.execute(statement)
    return [sale_of(payment, slug) for payment, slug in rows]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with these as a formula.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(sales: list[Sale]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for sale in sales:
        writer.writerow(
            [
                _cell(value)
                for value in (
                    sale.invoice,
                    sale.paid_at.isoformat(),
                    sale.course_title,
                    sale.email,
                    sale.currency.upper(),
                    decimal_amount(sale.amount_cents, sale.currency),
                    decimal_amount(sale.discount_cents, sale.currency),
                    sale.promotion_code,
                    sale.status,
                    sale.refunded_at.isoformat() if sale.refunded_at else "",
                )
            ]
        )
    return out.getvalue()
