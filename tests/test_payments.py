"""Paid courses at the service level: the real ``stripe`` library against the local Stripe
stand-in, real PostgreSQL, webhooks signed as Stripe signs them.

The stand-in holds its webhooks here, so each story decides when (and how often) Stripe's
event reaches CourseHub: before the buyer returns, late, twice."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.accounts import accounts
from coursehub.services.courses import enrollment
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    AuditEntry,
    Course,
    Enrollment,
    LessonProgress,
    Notification,
    utcnow,
)
from coursehub.services.models.payments import Payment, PaymentEvent, PaymentStatus
from coursehub.services.payments import checkout, payment_events, prices, refunds, sales
from coursehub.services.payments.config import PaymentSettings
from coursehub.services.payments.provider import BadWebhook, CheckoutStarted, ProviderEvent
from coursehub.services.payments.stripe_provider import StripeProvider
from coursehub.services.settings import Settings
from tests.course_builder import BuiltCourse, make_course
from tests.stripe_standin import StripeStandIn, sign

API_KEY = "sk_test_coursehub_standin"
WEBHOOK_SECRET = "whsec_coursehub_standin"


@pytest.fixture(scope="module")
def standin() -> Iterator[StripeStandIn]:
    stand_in = StripeStandIn(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        hold_webhooks=True,
        promotion_codes={"SPRING25": {"percent_off": 25}},
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def payment_settings(standin: StripeStandIn) -> PaymentSettings:
    return PaymentSettings(
        stripe_secret_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=standin.base_url,
        refund_days=14,
    )


@pytest.fixture
def provider(payment_settings: PaymentSettings) -> StripeProvider:
    return StripeProvider(payment_settings)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url="", redis_url="", data_dir=tmp_path)


@pytest.fixture
async def session(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessions() as opened:
        yield opened


@pytest.fixture
def paid_course(
    database_url: str, make_account: Callable[..., Account]
) -> Callable[..., tuple[Account, BuiltCourse]]:
    def make(price_cents: int = 4900) -> tuple[Account, BuiltCourse]:
        teacher = make_account(Role.INSTRUCTOR)
        built = make_course(
            database_url,
            teacher,
            title=f"Paid {secrets.token_hex(3)}",
            price_cents=price_cents,
        )
        return teacher, built

    return make


async def buy(
    session: AsyncSession,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    built: BuiltCourse,
    buyer: Account | None,
    currency: str = "usd",
) -> CheckoutStarted:
    course = await session.get_one(Course, built.id)
    buyer = await session.get(Account, buyer.id) if buyer else None
    started = await checkout.start(
        session, provider, settings, payment_settings, course, buyer, currency
    )
    assert isinstance(started, CheckoutStarted)
    return started


def paid_event(standin: StripeStandIn, checkout_id: str) -> bytes:
    """The checkout.session.completed webhook the stand-in held for this checkout."""
    for payload in standin.held:
        body = json.loads(payload)
        if body["type"] == "checkout.session.completed":
            if body["data"]["object"]["id"] == checkout_id:
                return payload
    raise AssertionError(f"no completed-checkout event for {checkout_id}")


def refund_event(standin: StripeStandIn, payment_ref: str) -> bytes:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for payload in standin.held:
            body = json.loads(payload)
            if body["type"] == "charge.refunded":
                if body["data"]["object"]["payment_intent"] == payment_ref:
                    return payload
        time.sleep(0.05)
    raise AssertionError(f"no charge.refunded event for {payment_ref}")


def verified(
    provider: StripeProvider, payload: bytes, timestamp: int | None = None
) -> ProviderEvent:
    header = sign(WEBHOOK_SECRET, payload, timestamp)
    return provider.parse_webhook(payload, {"Stripe-Signature": header})


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    provider: StripeProvider,
    settings: Settings,
    payload: bytes,
) -> payment_events.Outcome:
    """What the webhook endpoint does: verify, act in one transaction, commit."""
    event = verified(provider, payload)
    async with sessions() as session:
        outcome = await payment_events.handle_event(session, event, settings)
        await session.commit()
    return outcome


async def count(session: AsyncSession, statement) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(statement) or 0)


def body_of(message: EmailMessage) -> str:
    return message.get_content()


# -- stories -------------------------------------------------------------------------------------


async def test_a_payment_whose_webhook_comes_late_and_twice_enrolls_exactly_once(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(4900)
    student = make_account()
    started = await buy(session, provider, settings, payment_settings, built, student)
    assert started.url.startswith(f"{standin.base_url}/checkout/")
    created = standin.sessions[started.checkout_id]
    assert (created["currency"], created["amount_total"]) == ("usd", 4900)
    assert created["customer_email"] == student.email
    assert created["allow_promotion_codes"] is True

    standin.pay(started.checkout_id)
    # The buyer is back before Stripe's webhook: the success page keeps waiting.
    async with sessions() as reading:
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
    assert state.state == "pending"

    payload = paid_event(standin, started.checkout_id)
    first = await deliver(sessions, provider, settings, payload)
    again = await deliver(sessions, provider, settings, payload)
    assert (first.result, again.result) == ("enrolled", "duplicate")
    assert again.mail == []

    async with sessions() as reading:
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
        assert state.state == "enrolled"
        assert state.course_url == f"{SERVICE_PREFIX}/courses/{built.slug}"
        payments = (
            await reading.scalars(select(Payment).where(Payment.account_id == student.id))
        ).all()
        enrolled = await count(
            reading,
            select(func.count(Enrollment.id)).where(
                Enrollment.account_id == student.id, Enrollment.course_id == built.id
            ),
        )
    assert len(payments) == 1 and enrolled == 1
    assert (payments[0].amount_cents, payments[0].currency) == (4900, "usd")
    receipt = first.mail[0]
    assert receipt["To"] == student.email
    assert f"CH-{payments[0].invoice_number:06d}" in receipt["Subject"]
    assert "Paid: $49.00 (USD)" in body_of(receipt)


async def test_a_webhook_before_the_buyer_returns_shows_them_enrolled_at_once(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(1500)
    student = make_account()
    started = await buy(session, provider, settings, payment_settings, built, student)
    standin.pay(started.checkout_id)
    await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    async with sessions() as reading:
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
    assert state.state == "enrolled"
    # The same event again, as Stripe resends it after a slow answer: nothing more.
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    assert outcome.result == "duplicate"


async def test_a_visitor_pays_and_gets_an_account_with_a_set_password_link(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
) -> None:
    _, built = paid_course(2000)
    started = await buy(session, provider, settings, payment_settings, built, None)
    assert standin.sessions[started.checkout_id]["customer_email"] is None
    email = f"visitor-{secrets.token_hex(4)}@coursehub.example"
    standin.pay(started.checkout_id, email=email)
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    assert outcome.result == "enrolled"

    set_password, receipt = outcome.mail
    assert set_password["To"] == email and receipt["To"] == email
    link = next(line for line in body_of(set_password).splitlines() if "/reset/" in line)
    token = link.rsplit("/", 1)[1]
    async with sessions() as writing:
        account = await accounts.find_by_email(writing, email)
        assert account is not None and account.password_hash is None
        state = await checkout.state_of(writing, started.checkout_id, SERVICE_PREFIX)
        assert state.state == "enrolled" and state.set_password
        # The link is an ordinary single-use reset link of the accounts package.
        await accounts.finish_password_reset(writing, token, "a brand new passphrase", utcnow())
        await writing.commit()
    async with sessions() as reading:
        account = await accounts.find_by_email(reading, email)
        assert account is not None and account.password_hash
        assert await enrollment.is_enrolled(
            reading, account, await reading.get_one(Course, built.id)
        )


async def test_webhooks_with_a_bad_signature_or_a_stale_timestamp_are_refused(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(1000)
    started = await buy(session, provider, settings, payment_settings, built, make_account())
    standin.pay(started.checkout_id)
    payload = paid_event(standin, started.checkout_id)

    forged = sign("whsec_someone_else", payload)
    tampered = payload.replace(b'"amount_total": 1000', b'"amount_total": 1')
    stale = int(time.time()) - 301
    with pytest.raises(BadWebhook, match="signature"):
        provider.parse_webhook(payload, {"Stripe-Signature": forged})
    with pytest.raises(BadWebhook, match="signature"):
        provider.parse_webhook(tampered, {"Stripe-Signature": sign(WEBHOOK_SECRET, payload)})
    with pytest.raises(BadWebhook, match="tolerance"):
        verified(provider, payload, timestamp=stale)
    with pytest.raises(BadWebhook, match="no Stripe-Signature"):
        provider.parse_webhook(payload, {})
    async with sessions() as reading:
        assert (
            await count(
                reading, select(func.count()).where(Payment.checkout_id == started.checkout_id)
            )
            == 0
        )


async def test_a_webhook_for_a_course_coursehub_does_not_have_creates_nothing(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    email = f"ghost-{secrets.token_hex(4)}@coursehub.example"
    session_object = {
        "id": f"cs_test_{secrets.token_hex(8)}",
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": "pi_ghost",
        "currency": "usd",
        "amount_total": 999,
        "customer_details": {"email": email},
        "metadata": {"course_id": "987654321", "account_id": ""},
    }
    payload = standin.event("checkout.session.completed", session_object)
    event = verified(provider, payload)
    async with sessions() as writing:
        with pytest.raises(payment_events.IgnoredEvent, match="no course"):
            await payment_events.handle_event(writing, event, settings)
        await writing.rollback()
    async with sessions() as reading:
        assert await accounts.find_by_email(reading, email) is None
        assert (
            await count(
                reading, select(func.count()).where(PaymentEvent.event_id == event.event_id)
            )
            == 0
        )


async def test_a_price_changed_after_checkout_began_keeps_what_was_paid(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(3000)
    student = make_account()
    started = await buy(session, provider, settings, payment_settings, built, student)
    async with sessions() as writing:
        course = await writing.get_one(Course, built.id)
        course.price_cents = 9000
        await writing.commit()
    standin.pay(started.checkout_id)
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    assert outcome.result == "enrolled"
    async with sessions() as reading:
        payment = await reading.get_one(Payment, outcome.payment_id)
    assert payment.amount_cents == 3000


async def test_a_promotion_code_lowers_what_is_paid_and_shows_on_the_receipt(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(4000)
    started = await buy(session, provider, settings, payment_settings, built, make_account())
    standin.pay(started.checkout_id, code="spring25")
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    async with sessions() as reading:
        payment = await reading.get_one(Payment, outcome.payment_id)
    assert (payment.amount_cents, payment.discount_cents) == (3000, 1000)
    assert payment.promotion_code == "spring25"
    assert "Discount: $10.00 (code spring25)" in body_of(outcome.mail[-1])
    assert "Paid: $30.00" in body_of(outcome.mail[-1])


async def test_a_course_sells_in_each_currency_it_has_a_price_in(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(5000)
    async with sessions() as writing:
        course = await writing.get_one(Course, built.id)
        await prices.set_price(writing, course, "EUR", 4500, "usd")
        await prices.set_price(writing, course, "jpy", 7000, "usd")
        with pytest.raises(Refusal, match="3-letter"):
            await prices.set_price(writing, course, "euro", 4500, "usd")
        with pytest.raises(Refusal, match="from 1 to"):
            await prices.set_price(writing, course, "gbp", 0, "usd")
        await writing.commit()
        labels = [price.label for price in await prices.prices_of(writing, course, "usd")]
    assert labels == ["$50.00", "€45.00", "¥7,000"]
    assert [prices.parse_amount(raw, cur) for raw, cur in [("45", "eur"), ("1,234.5", "usd")]] == [
        4500,
        123450,
    ]
    assert prices.parse_amount("7000", "jpy") == 7000
    for raw, cur in [("0", "eur"), ("4.555", "eur"), ("12.5", "jpy"), ("nan", "eur"), ("", "eur")]:
        with pytest.raises(Refusal, match="positive amount"):
            prices.parse_amount(raw, cur)
    _, free = paid_course(0)
    async with sessions() as writing:
        with pytest.raises(Refusal, match="is free") as refused:
            await prices.set_price(writing, await writing.get_one(Course, free.id), "eur", 9, "usd")
    assert refused.value.status == 409

    student = make_account()
    started = await buy(session, provider, settings, payment_settings, built, student, "eur")
    assert (standin.sessions[started.checkout_id]["currency"], started.checkout_id) != ("", "")
    assert standin.sessions[started.checkout_id]["amount_total"] == 4500
    with pytest.raises(Refusal, match=r"no price in GBP\. Choose one of: USD, EUR, JPY"):
        await buy(session, provider, settings, payment_settings, built, student, "gbp")
    standin.pay(started.checkout_id)
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    assert "Paid: €45.00 (EUR)" in body_of(outcome.mail[-1])


async def test_staff_take_a_paid_course_free_and_never_reach_stripe(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    teacher, built = paid_course(2500)
    colleague = make_account(Role.INSTRUCTOR)
    course = await session.get_one(Course, built.id)
    before = len(standin.sessions)
    result = await checkout.start(
        session,
        provider,
        settings,
        payment_settings,
        course,
        await session.get_one(Account, colleague.id),
        "usd",
    )
    await session.commit()
    assert isinstance(result, enrollment.EnrollmentResult) and result.enrolled
    assert len(standin.sessions) == before
    # Its own instructor cannot buy it: they teach it.
    with pytest.raises(Refusal, match="You teach"):
        await checkout.start(
            session,
            provider,
            settings,
            payment_settings,
            course,
            await session.get_one(Account, teacher.id),
            "usd",
        )


async def test_a_refund_closes_the_course_keeps_progress_and_cannot_be_made_twice(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    teacher, built = paid_course(6000)
    student = make_account()
    other_teacher = make_account(Role.INSTRUCTOR)
    admin = make_account(Role.ADMIN)
    started = await buy(session, provider, settings, payment_settings, built, student)
    standin.pay(started.checkout_id)
    outcome = await deliver(sessions, provider, settings, paid_event(standin, started.checkout_id))
    async with sessions() as writing:
        writing.add(
            LessonProgress(
                account_id=student.id, lesson_id=built.lesson_ids[0], completed_at=utcnow()
            )
        )
        await writing.commit()

    async def refund(actor: Account, when_days: float = 0) -> Payment:
        async with sessions() as writing:
            return await refunds.request_refund(
                writing,
                provider,
                await writing.get_one(Account, actor.id),
                outcome.payment_id or 0,
                payment_settings.refund_days,
                utcnow() + timedelta(days=when_days),
            )

    with pytest.raises(Refusal, match="no such payment") as not_theirs:
        await refund(other_teacher)
    assert not_theirs.value.status == 404
    with pytest.raises(Refusal, match="more than 14 days old") as too_late:
        await refund(teacher, when_days=15)
    assert too_late.value.status == 403
    with pytest.raises(Refusal, match="no such payment"):
        await refund(student)

    asked = await refund(teacher, when_days=13)
    assert asked.refund_requested_at is not None
    with pytest.raises(Refusal, match="already been refunded") as twice:
        await refund(admin)
    assert twice.value.status == 409

    refunded = refund_event(standin, asked.payment_ref)
    assert (await deliver(sessions, provider, settings, refunded)).result == "refunded"
    assert (await deliver(sessions, provider, settings, refunded)).result == "duplicate"
    async with sessions() as reading:
        payment = await reading.get_one(Payment, asked.id)
        course = await reading.get_one(Course, built.id)
        assert payment.status is PaymentStatus.REFUNDED and payment.refunded_at
        assert not await enrollment.is_enrolled(
            reading, await reading.get_one(Account, student.id), course
        )
        kept = await count(
            reading,
            select(func.count()).where(
                LessonProgress.account_id == student.id,
                LessonProgress.lesson_id == built.lesson_ids[0],
            ),
        )
        notes = (
            await reading.scalars(
                select(Notification).where(
                    Notification.account_id == student.id,
                    Notification.kind == "payment_refunded",
                )
            )
        ).all()
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
    assert kept == 1
    assert len(notes) == 1 and "refunded" in notes[0].payload["title"]
    async with sessions() as reading:
        trail = (
            await reading.scalars(
                select(AuditEntry).where(
                    AuditEntry.target_kind == "payment", AuditEntry.target_id == str(asked.id)
                )
            )
        ).all()
    assert [(entry.action, entry.actor_id) for entry in trail] == [("payment.refund", teacher.id)]
    assert state.state == "refunded"

    # Even asked of Stripe directly, the second refund of the payment is refused.
    with pytest.raises(Refusal, match="already been refunded"):
        await provider.refund(asked.payment_ref, "a-new-key")


async def test_invoices_are_numbered_in_order_and_sales_go_to_csv_per_role(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    teacher, built = paid_course(1200)
    _, other = paid_course(3400)
    admin = make_account(Role.ADMIN)
    student = make_account()
    paid: list[int] = []
    for course in (built, other):
        started = await buy(session, provider, settings, payment_settings, course, student)
        standin.pay(started.checkout_id)
        outcome = await deliver(
            sessions, provider, settings, paid_event(standin, started.checkout_id)
        )
        paid.append(outcome.payment_id or 0)
    async with sessions() as reading:
        first, second = [await reading.get_one(Payment, pid) for pid in paid]
        mine = await sales.purchases_of(reading, await reading.get_one(Account, student.id))
        teachers = await sales.sales_for(reading, await reading.get_one(Account, teacher.id))
        everything = await sales.sales_for(reading, await reading.get_one(Account, admin.id))
    assert second.invoice_number > first.invoice_number
    assert [sale.id for sale in mine] == [second.id, first.id]
    assert [sale.course_slug for sale in teachers] == [built.slug]
    assert {first.id, second.id} <= {sale.id for sale in everything}

    table = sales.as_csv(teachers).splitlines()
    assert table[0] == ",".join(sales.CSV_COLUMNS)
    assert table[1].startswith(f"CH-{first.invoice_number:06d},")
    assert ",USD,12.00,0.00,,PAID," in table[1]
    dangerous = sales.Sale(**{**teachers[0].__dict__, "course_title": "=HYPERLINK(1)"})
    assert ",'=HYPERLINK(1)," in sales.as_csv([dangerous])


async def test_a_payment_that_settles_later_enrolls_when_stripe_says_it_succeeded(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(2200)
    started = await buy(session, provider, settings, payment_settings, built, make_account())
    standin.pay(started.checkout_id)
    paid = standin.sessions[started.checkout_id]
    # A bank debit: the session completes unpaid, and the money arrives days later.
    unpaid = standin.event("checkout.session.completed", {**paid, "payment_status": "unpaid"})
    assert (await deliver(sessions, provider, settings, unpaid)).result == "ignored"
    async with sessions() as reading:
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
    assert state.state == "pending"
    settled = standin.event("checkout.session.async_payment_succeeded", paid)
    assert (await deliver(sessions, provider, settings, settled)).result == "enrolled"
    async with sessions() as reading:
        state = await checkout.state_of(reading, started.checkout_id, SERVICE_PREFIX)
    assert state.state == "enrolled"


async def test_a_waiting_buyer_hears_what_stripe_says_while_no_webhook_has_come(
    standin: StripeStandIn,
    provider: StripeProvider,
    settings: Settings,
    payment_settings: PaymentSettings,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    paid_course: Callable[..., tuple[Account, BuiltCourse]],
    make_account: Callable[..., Account],
) -> None:
    _, built = paid_course(3100)

    async def waiting_page_sees(checkout_id: str) -> checkout.CheckoutState:
        checkout._progress.pop(checkout_id, None)  # another moment: Stripe is asked again
        async with sessions() as reading:
            state = await checkout.state_of(reading, checkout_id, SERVICE_PREFIX)
        return await checkout.with_provider_progress(state, provider, checkout_id)

    # Paid at Stripe, webhook not here yet: pending, and Stripe has the money.
    paid = await buy(session, provider, settings, payment_settings, built, make_account())
    standin.pay(paid.checkout_id)
    seen = await waiting_page_sees(paid.checkout_id)
    assert (seen.state, seen.provider_state) == ("pending", "paid")
    assert seen.as_json()["provider_state"] == "paid"
    # Once the webhook is in, the page hears it from CourseHub alone.
    await deliver(sessions, provider, settings, paid_event(standin, paid.checkout_id))
    assert (await waiting_page_sees(paid.checkout_id)).state == "enrolled"

    # Never paid: the checkout is still open, or it expired (abandoned or cancelled).
    abandoned = await buy(session, provider, settings, payment_settings, built, make_account())
    seen = await waiting_page_sees(abandoned.checkout_id)
    assert (seen.state, seen.provider_state) == ("not_paid", "open")
    standin.settle(abandoned.checkout_id, "expired")
    seen = await waiting_page_sees(abandoned.checkout_id)
    assert (seen.state, seen.provider_state) == ("not_paid", "expired")

    # A bank debit under way, then one that failed.
    debit = await buy(session, provider, settings, payment_settings, built, make_account())
    standin.settle(debit.checkout_id, "complete", "unpaid", intent="processing")
    seen = await waiting_page_sees(debit.checkout_id)
    assert (seen.state, seen.provider_state) == ("pending", "processing")
    standin.settle(debit.checkout_id, "complete", "unpaid", intent="requires_payment_method")
    assert (await waiting_page_sees(debit.checkout_id)).state == "failed"

    # A checkout Stripe does not know (a made-up address): still pending, provider unknown.
    seen = await waiting_page_sees("cs_test_" + secrets.token_hex(16))
    assert (seen.state, seen.provider_state) == ("pending", "unknown")
    # Stripe is not asked again within a few seconds, however often the page asks.
    before = len(standin.requests)
    async with sessions() as reading:
        state = await checkout.state_of(reading, debit.checkout_id, SERVICE_PREFIX)
    for _ in range(5):
        await checkout.with_provider_progress(state, provider, debit.checkout_id)
    assert len(standin.requests) == before
