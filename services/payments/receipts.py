"""The emails a payment sends: the receipt (with its invoice number) and, for a payer who had
no account, the link to set a password (a password-reset link of ``accounts``)."""

from __future__ import annotations

from email.message import EmailMessage

from coursehub.services import mail
from coursehub.services.models.payments import Payment
from coursehub.services.payments.prices import format_amount
from coursehub.services.settings import Settings

INVOICE_PREFIX = "CH-"


def invoice_label(number: int) -> str:
    return f"{INVOICE_PREFIX}{number:06d}"


def compose_receipt(settings: Settings, payment: Payment, name: str) -> EmailMessage:
    label = invoice_label(payment.invoice_number)
    paid = format_amount(payment.amount_cents, payment.currency)
    lines = [
        f"Hello {name or payment.email},",
        "",
        f"Thank you for buying {payment.course_title} on CourseHub. This is your receipt.",
        "",
        f"Invoice number: {label}",
        f"Date: {payment.paid_at:%Y-%m-%d %H:%M} UTC",
        f"Course: {payment.course_title}",
    ]
    if payment.discount_cents:
        lines.append(
            f"Discount: {format_amount(payment.discount_cents, payment.currency)}"
            + (f" (code {payment.promotion_code})" if payment.promotion_code else "")
        )
    lines += [
        f"Paid: {paid} ({payment.currency.upper()})",
        "",
        f"Your purchases and receipts: {settings.public_url}{settings.service_prefix}/payments",
        "",
    ]
    return mail.compose(
        settings,
        payment.email,
        f"Receipt {label}: {payment.course_title}",
        "\n".join(lines),
    )


def compose_set_password(
    settings: Settings, email: str, name: str, token: str, course_title: str, days: int
) -> EmailMessage:
    link = f"{settings.public_url}{settings.service_prefix}/reset/{token}"
    body = (
        f"Hello {name or email},\n\n"
        f"You bought {course_title} on CourseHub, so we made you an account with this email "
        "address, and you are enrolled.\n\n"
        f"Choose your password here (the link works once, for {days} days):\n{link}\n\n"
        "Then sign in with this email address and your new password.\n"
    )
    return mail.compose(settings, email, "Set your CourseHub password", body)
