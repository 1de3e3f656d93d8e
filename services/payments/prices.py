"""What a course costs: its own price (in CourseHub's currency) and its prices in other
currencies, set by its instructor or an administrator."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import Course
from coursehub.services.models.payments import CoursePrice

# Stripe's largest amount for a Checkout Session is 99,999,999 in the smallest unit.
MAX_AMOUNT = 99_999_999
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹"}
# Currencies without a minor unit: Stripe takes their amounts as whole units.
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"})


@dataclass(frozen=True)
class Price:
    currency: str
    amount_cents: int

    @property
    def label(self) -> str:
        return format_amount(self.amount_cents, self.currency)


def decimal_amount(amount: int, currency: str) -> str:
    """The amount as a plain number in the currency's units ("49.00"; "7000" for yen)."""
    if currency.lower() in ZERO_DECIMAL:
        return str(amount)
    return f"{amount // 100}.{amount % 100:02d}"


def format_amount(amount: int, currency: str) -> str:
    currency = currency.lower()
    symbol = SYMBOLS.get(currency, "")
    if currency in ZERO_DECIMAL:
        number = f"{amount:,}"
    else:
        number = f"{amount // 100:,}.{amount % 100:02d}"
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def check_currency(raw: str) -> str:
    currency = raw.strip().lower()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise Refusal(
            f"A currency is a 3-letter ISO code such as EUR, not {raw[:20]!r}.", field="currency"
        )
    return currency


async def prices_of(session: AsyncSession, course: Course, default_currency: str) -> list[Price]:
    """Every price of a paid course, its own first; [] for a free course."""
    if course.price_cents <= 0:
        return []
    rows = await session.scalars(
        select(CoursePrice).where(CoursePrice.course_id == course.id).order_by(CoursePrice.currency)
    )
    others = [Price(row.currency, row.amount_cents) for row in rows]
    return [Price(default_currency, course.price_cents)] + [
        price for price in others if price.currency != default_currency
    ]


async def price_in(
    session: AsyncSession, course: Course, currency: str, default_currency: str
) -> Price:
    """The course's price in ``currency``, or a refusal naming the currencies it has."""
    prices = await prices_of(session, course, default_currency)
    for price in prices:
        if price.currency == currency:
            return price
    offered = ", ".join(price.currency.upper() for price in prices) or "none"
    raise Refusal(
        f"{course.title} has no price in {currency.upper()}. Choose one of: {offered}.",
        field="currency",
    )


async def set_price(
    session: AsyncSession, course: Course, currency: str, amount: int | None, default_currency: str
) -> None:
    """Set (or with ``amount`` None, remove) the course's price in another currency."""
    currency = check_currency(currency)
    if course.price_cents <= 0:
        raise Refusal(
            f"{course.title} is free: give it a price on its settings page before adding "
            "prices in other currencies.",
            409,
        )
    if currency == default_currency:
        raise Refusal(
            f"The price in {currency.upper()} is the course's own price: change it on the "
            "course's settings page.",
            field="currency",
        )
    if amount is None:
        await session.execute(
            delete(CoursePrice).where(
                CoursePrice.course_id == course.id, CoursePrice.currency == currency
            )
        )
        return
    if not 0 < amount <= MAX_AMOUNT:
        raise Refusal(
            f"A price is a whole number of cents from 1 to {MAX_AMOUNT:,}.", field="amount_cents"
        )
    await session.execute(
        insert(CoursePrice)
        .values(course_id=course.id, currency=currency, amount_cents=amount)
        .on_conflict_do_update(
            index_elements=["course_id", "currency"], set_={"amount_cents": amount}
        )
    )


def parse_amount(raw: str, currency: str) -> int:
    """A price typed in a form ("45", "45.50"; yen whole) in the currency's smallest unit."""
    text = raw.strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    units = 1 if currency in ZERO_DECIMAL else 100
    amount = value * units
    if not value.is_finite() or amount != amount.to_integral_value() or amount <= 0:
        example = "7000" if units == 1 else "45.00"
        raise Refusal(
            f"Type the price as a positive amount such as {example}, not {raw[:20]!r}.",
            field="amount",
        )
    return int(amount)
