"""Paid courses on a running CourseHub with Stripe keys, against the local Stripe stand-in.

Payments are configured when the service starts, so this module runs one CourseHub of its
own (the session's shared one has no keys, and keeps saying payment is not available). Its
webhooks go through the hub's proxy as Stripe's would, signed as Stripe signs them.

The browser story: a visitor buys a paid course on the stand-in's checkout page with a
promotion code, comes back to a page that waits until the webhook has enrolled them, gets a
receipt and a set-password link by email, opens the course; the instructor refunds the payment
from the sales page, and the course closes to the student.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account, Enrollment
from coursehub.services.models.payments import Payment, PaymentEvent, PaymentStatus
from coursehub.services.settings import sqlalchemy_url
from tests.conftest import PASSWORD
from tests.course_builder import BuiltCourse, make_course
from tests.platform import (
    SERVICE,
    Platform,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
    sign_in,
    xsrf_from,
)
from tests.stripe_standin import StripeStandIn, sign

API_KEY = "sk_test_coursehub_platform"
WEBHOOK_SECRET = "whsec_coursehub_platform"


@pytest.fixture(scope="module")
def standin() -> Iterator[StripeStandIn]:
    stand_in = StripeStandIn(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        promotion_codes={"WELCOME10": {"amount_off": 1000}},
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def paid_platform(
    tmp_path_factory: pytest.TempPathFactory, standin: StripeStandIn
) -> Iterator[Platform]:
    database_url = create_database("coursehub_payments")
    upgrade(sqlalchemy_url(database_url))
    redis_url = claim_redis_db()
    data_dir = tmp_path_factory.mktemp("coursehub-payments")
    env = platform_env(
        data_dir,
        database_url,
        redis_url,
        COURSEHUB_STRIPE_SECRET_KEY=API_KEY,
        COURSEHUB_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        COURSEHUB_STRIPE_API_BASE=standin.base_url,
        COURSEHUB_REFUND_DAYS="30",
    )
    standin.webhook_url = f"{env['COURSEHUB_PUBLIC_URL']}{SERVICE}/payments/webhook"
    running = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    # A patient start: the machine is shared, and this CourseHub starts while others run.
    running.start(timeout=300)
    try:
        yield running
    finally:
        running.stop()
        release_redis_db(redis_url)
        drop_database(database_url)


@pytest.fixture(scope="module")
def paid_db(paid_platform: Platform) -> Iterator[Callable[[], Session]]:
    engine = create_engine(sqlalchemy_url(paid_platform.database_url))
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def person(paid_db: Callable[[], Session]) -> Callable[..., Account]:
    def make(role: Role = Role.STUDENT) -> Account:
        stem = f"payer-{secrets.token_hex(4)}"
        account = Account(
            username=stem,
            email=f"{stem}@coursehub.example",
            name=stem.title(),
            password_hash=hash_password(PASSWORD),
            role=role,
        )
        with paid_db() as session:
            session.add(account)
            session.commit()
        return account

    return make


@pytest.fixture
def paid_course(
    paid_platform: Platform, person: Callable[..., Account]
) -> tuple[Account, BuiltCourse]:
    teacher = person(Role.INSTRUCTOR)
    built = make_course(
        paid_platform.database_url,
        teacher,
        title=f"Bayesian Birds {secrets.token_hex(2)}",
        price_cents=4900,
    )
    return teacher, built


@contextmanager
def client_as(platform: Platform, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=60) as http:
        assert sign_in(http, platform.url, account.email or "", PASSWORD).status_code == 200
        assert http.get(f"{platform.service_url}/courses").status_code == 200
        yield http


def mail_to(platform: Platform, address: str, subject: str, timeout: float = 30) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        for path in platform.outbox():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address and subject in str(message["Subject"]):
                return message  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {address} about {subject!r}")
        time.sleep(0.2)


def counts(paid_db: Callable[[], Session]) -> tuple[int, int]:
    with paid_db() as session:
        return (
            session.scalar(select(func.count()).select_from(Payment)) or 0,
            session.scalar(select(func.count()).select_from(PaymentEvent)) or 0,
        )


# -- the webhook endpoint ----------------------------------------------------------------------


def test_the_webhook_refuses_what_does_not_verify_and_records_nothing(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
) -> None:
    _, built = paid_course
    url = standin.webhook_url
    checkout = {
        "id": f"cs_test_{secrets.token_hex(8)}",
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": f"pi_{secrets.token_hex(6)}",
        "currency": "usd",
        "amount_total": 4900,
        "customer_details": {"email": f"forger-{secrets.token_hex(3)}@coursehub.example"},
        "metadata": {"course_id": str(built.id), "account_id": ""},
    }
    payload = standin.event("checkout.session.completed", checkout)
    before = counts(paid_db)
    cases = {
        "no signature": {},
        "another secret": {"Stripe-Signature": sign("whsec_not_ours", payload)},
        "stale": {"Stripe-Signature": sign(WEBHOOK_SECRET, payload, int(time.time()) - 600)},
    }
    for case, headers in cases.items():
        answer = httpx.post(url, content=payload, headers=headers, timeout=30)
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["error"], case
    assert counts(paid_db) == before

    # Signed, but for a course CourseHub does not have: 200 (Stripe stops resending), nothing.
    ghost = standin.event(
        "checkout.session.completed", {**checkout, "metadata": {"course_id": "99999999"}}
    )
    answer = httpx.post(
        url, content=ghost, headers={"Stripe-Signature": sign(WEBHOOK_SECRET, ghost)}, timeout=30
    )
    assert (answer.status_code, answer.json()["result"]) == (200, "ignored")
    assert counts(paid_db) == before
    assert "ignored" in paid_platform.log()


def test_sales_are_for_staff_and_their_csv_lists_their_courses_only(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
    person: Callable[..., Account],
) -> None:
    teacher, built = paid_course
    student = person()
    with client_as(paid_platform, student) as http:
        page = http.get(f"{paid_platform.service_url}/courses/{built.slug}")
        assert 'id="buy_button"' in page.text and "Buy for $49.00" in page.text
        answer = http.post(
            f"{paid_platform.service_url}/courses/{built.slug}/buy",
            data={"_xsrf": xsrf_from(page)},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        checkout_id = answer.headers["Location"].rsplit("/", 1)[1]
        standin.pay(checkout_id)
        assert http.get(f"{paid_platform.service_url}/api/sales").status_code == 403
        mine = http.get(f"{paid_platform.service_url}/api/me/payments").json()["items"]
        assert [item["course_slug"] for item in mine] == [built.slug]
    with client_as(paid_platform, teacher) as http:
        table = http.get(f"{paid_platform.service_url}/sales.csv")
        assert table.headers["Content-Type"].startswith("text/csv")
        rows = table.text.splitlines()
        assert rows[0].startswith("invoice,paid_at,course,buyer_email")
        assert len(rows) == 2 and student.email in rows[1] and ",USD,49.00," in rows[1]
        # A price in euros, then the buyer chooses the currency.
        form = http.get(f"{paid_platform.service_url}/courses/{built.slug}")
        prices = http.put(
            f"{paid_platform.service_url}/api/courses/{built.slug}/prices",
            json={"currency": "EUR", "amount_cents": 4500},
            headers={"X-XSRFToken": xsrf_from(form)},
        )
    assert prices.status_code == 200, prices.text
    assert [p["label"] for p in prices.json()["prices"]] == ["$49.00", "€45.00"]
    with client_as(paid_platform, teacher) as http:
        course_page = http.get(f"{paid_platform.service_url}/courses/{built.slug}")
        assert 'id="staff_prices_link"' in course_page.text
        form_url = f"{paid_platform.service_url}/courses/{built.slug}/prices"
        form = http.get(form_url)
        saved = http.post(
            form_url, data={"_xsrf": xsrf_from(form), "currency": "gbp", "amount": "39.50"}
        )
        assert saved.status_code == 200 and 'id="prices_notice"' in saved.text
        assert "£39.50" in saved.text and "€45.00" in saved.text
        wrong = http.post(
            form_url, data={"_xsrf": xsrf_from(form), "currency": "gbp", "amount": "-3"}
        )
        assert wrong.status_code == 400 and "positive amount" in wrong.text
    with client_as(paid_platform, student) as http:
        assert http.get(form_url).status_code == 403
        # With several currencies, Buy asks which one.
        page = http.get(f"{paid_platform.service_url}/courses/{built.slug}")
        choose = http.post(
            f"{paid_platform.service_url}/courses/{built.slug}/buy",
            data={"_xsrf": xsrf_from(page)},
        )
        assert choose.status_code == 200
        assert "Pay £39.50 (GBP)" in choose.text and "Pay €45.00 (EUR)" in choose.text


# -- the browser story -------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=None)


@pytest.mark.browser
def test_a_visitor_buys_a_course_is_enrolled_gets_a_receipt_and_a_refund_closes_it(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    teacher, built = paid_course
    buyer_email = f"new-buyer-{secrets.token_hex(4)}@coursehub.example"
    standin.hold_webhooks = True  # the buyer is back before Stripe's webhook
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page: Page = context.new_page()
    try:
        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        expect(page.locator("#buy_note")).to_contain_text("One is made from the email you pay with")
        page.locator("#buy_button").click()

        # Stripe's hosted page (the stand-in): CourseHub never sees the card.
        expect(page).to_have_url(re.compile(rf"^{re.escape(standin.base_url)}/checkout/"))
        expect(page.locator("#product")).to_have_text(built.title)
        expect(page.locator("#amount")).to_have_text("49.00 USD")
        page.locator("#email").fill(buyer_email)
        page.locator("#promotion_code").fill("WELCOME10")
        page.locator("#pay_button").click()

        expect(page).to_have_url(re.compile(r"/services/coursehub/payments/success\?session_id="))
        expect(page.locator("#purchase_pending")).to_be_visible()
        # Now Stripe's webhook arrives; the open page notices by itself.
        (payload,) = standin.held
        standin.held.clear()
        standin.hold_webhooks = False
        assert standin.deliver(payload) == 200
        expect(page.locator("#purchase_enrolled")).to_be_visible()
        expect(page.locator("#purchase_pending")).to_be_hidden()
        expect(page.locator("#purchase_set_password")).to_be_visible()
        expect(page.locator("#purchase_course")).to_have_text(built.title)

        receipt = mail_to(paid_platform, buyer_email, "Receipt CH-")
        text = receipt.get_content()
        assert "Paid: $39.00 (USD)" in text and "Discount: $10.00 (code WELCOME10)" in text
        welcome = mail_to(paid_platform, buyer_email, "Set your CourseHub password")
        link = next(w for w in welcome.get_content().split() if "/reset/" in w)
        page.goto(link)
        page.get_by_label("New password").fill("my own passphrase now")
        page.get_by_role("button", name="Save the new password").click()
        expect(page).to_have_url(re.compile(r"/services/coursehub/dashboard$"))

        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        expect(page.locator("#enrolled_state")).to_be_visible()
        lesson = f"{paid_platform.service_url}/learn/{built.slug}/{built.lesson_ids[1]}"
        opened = page.goto(lesson)
        assert opened is not None and opened.status == 200
        expect(page.locator("#course_page_link")).to_have_count(0)
        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        page.locator("#purchases_link").click()
        expect(page.locator("#purchases .purchase")).to_have_count(1)
        expect(page.locator("#purchases .purchase-status")).to_have_text("Paid")

        # The instructor refunds it from the sales page.
        teaching = browser.new_context(viewport={"width": 1280, "height": 800})
        staff_page = teaching.new_page()
        staff_page.goto(f"{paid_platform.url}/hub/login")
        staff_page.locator("#username_input").fill(teacher.email or "")
        staff_page.locator("#password_input").fill(PASSWORD)
        staff_page.locator("#login_submit").click()
        staff_page.wait_for_url(re.compile(r"/services/coursehub/"))
        staff_page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        staff_page.locator("#staff_sales_link").click()
        row = staff_page.locator("#sales .sale", has_text=buyer_email)
        expect(row).to_contain_text("$39.00")
        expect(row).to_contain_text("WELCOME10")
        row.get_by_role("button", name="Refund").click()
        expect(staff_page.locator("#sales_notice")).to_contain_text("The refund is asked")
        teaching.close()

        deadline = time.monotonic() + 30
        while True:
            with paid_db() as session:
                payment = session.scalar(select(Payment).where(Payment.email == buyer_email))
                assert payment is not None
                if payment.status is PaymentStatus.REFUNDED:
                    break
            assert time.monotonic() < deadline, "charge.refunded never ended the enrolment"
            time.sleep(0.3)
        with paid_db() as session:
            enrolled = session.scalar(
                select(func.count())
                .select_from(Enrollment)
                .where(Enrollment.account_id == payment.account_id)
            )
        assert enrolled == 0

        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        expect(page.locator("#enrolled_state")).to_have_count(0)
        expect(page.locator("#buy_button")).to_be_visible()
        closed = page.goto(lesson)
        assert closed is not None and closed.status != 200
        expect(page.locator("#course_page_link")).to_be_visible()
        page.goto(f"{paid_platform.service_url}/payments")
        expect(page.locator("#purchases .purchase-status")).to_have_text("Refunded")
        # A second refund is refused with a sentence, and nothing changes.
        with client_as(paid_platform, teacher) as http:
            form = http.get(f"{paid_platform.service_url}/courses/{built.slug}")
            again = http.post(
                f"{paid_platform.service_url}/api/payments/{payment.id}/refund",
                headers={"X-XSRFToken": xsrf_from(form)},
            )
        assert again.status_code == 409
        assert "already been refunded" in json.loads(again.text)["error"]
    finally:
        standin.hold_webhooks = False
        standin.held.clear()
        context.close()


# -- the success page while the webhook is late, or never comes ---------------------------------

RECEIVED = (
    "Your payment is received by Stripe; your enrolment will appear within a few minutes and "
    "we will email you. You can leave this page."
)


def pay_as_visitor(page: Page, platform: Platform, standin: StripeStandIn, slug: str) -> str:
    """A visitor buys the course on the stand-in's page and is sent back; the checkout's id."""
    page.goto(f"{platform.service_url}/courses/{slug}")
    page.locator("#buy_button").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(standin.base_url)}/checkout/"))
    checkout_id = page.url.rsplit("/", 1)[1]
    page.locator("#email").fill(f"patient-{secrets.token_hex(4)}@coursehub.example")
    page.locator("#pay_button").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/payments/success\?session_id="))
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("#purchase_progress_bar")).to_be_attached()
    return checkout_id


SHOWN = """() => {
  const seen = (id) => { const el = document.getElementById(id); return !!el && !el.hidden
    && !el.closest("[hidden]"); };
  return {
    pending: seen("purchase_pending"), slow: seen("purchase_slow"),
    enrolled: seen("purchase_enrolled"), failed: seen("purchase_failed"),
    not_paid: seen("purchase_not_paid"),
    bar: parseFloat((document.getElementById("purchase_progress_bar") || {style: {}})
      .style.width) || 0,
    slow_text: seen("purchase_slow")
      ? document.getElementById("purchase_slow").innerText.trim() : "",
  };
}"""


class Watch:
    """The success page looked at every quarter second from the moment it opened, and the
    times at which it asked CourseHub how the purchase stands."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.start = time.monotonic()
        self.samples: list[tuple[float, dict]] = []  # type: ignore[type-arg]
        self.asks: list[float] = []
        page.on("request", self._request)

    def _request(self, request) -> None:  # type: ignore[no-untyped-def]
        if "/api/payments/checkout/" in request.url:
            self.asks.append(time.monotonic() - self.start)

    def for_seconds(self, seconds: float, until: str = "") -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            shown = self.page.evaluate(SHOWN)
            self.samples.append((time.monotonic() - self.start, shown))
            if until and shown[until]:
                return
            self.page.wait_for_timeout(250)

    def first(self, part: str) -> float:
        return next(at for at, shown in self.samples if shown[part])

    def asks_between(self, start: float, end: float) -> int:
        return sum(1 for at in self.asks if start <= at < end)


@pytest.mark.browser
def test_the_success_page_waits_20_seconds_then_says_what_happens_and_sees_a_late_webhook(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    _, built = paid_course
    standin.hold_webhooks = True
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page: Page = context.new_page()
    try:
        checkout_id = pay_as_visitor(page, paid_platform, standin, built.slug)
        watch = Watch(page)
        watch.for_seconds(30)
        early = [shown for at, shown in watch.samples if at < 19]
        # At first: the progress shows and grows; no sentence about leaving yet.
        assert early and all(s["pending"] and not s["slow"] for s in early)
        bars = [s["bar"] for s in early]
        assert bars == sorted(bars) and bars[0] < 30 and bars[-1] > 80, bars
        # By 20 seconds (a sample's and a tick's slack): one sentence, and the buyer may leave.
        assert 18 <= watch.first("slow") <= 21.5, watch.first("slow")
        assert watch.samples[-1][1]["slow_text"] == RECEIVED
        assert not any(s["enrolled"] or s["failed"] or s["not_paid"] for _, s in watch.samples)
        # It asked often while the bar filled, then less often (every 10 s).
        assert watch.asks_between(0, 19) >= 5, watch.asks
        assert watch.asks_between(21, 30) <= 1, watch.asks

        # Stripe's webhook comes at last (30 s late): the open page notices at its next ask.
        (payload,) = [p for p in standin.held if checkout_id.encode() in p]
        standin.held.remove(payload)
        assert standin.deliver(payload) == 200
        delivered = time.monotonic() - watch.start
        watch.for_seconds(15, until="enrolled")
        assert watch.first("enrolled") - delivered <= 11, (watch.first("enrolled"), delivered)
        expect(page.locator("#purchase_pending")).to_be_hidden()
        expect(page.locator("#purchase_course")).to_have_text(built.title)
        # Enrolled is the end: it stops asking.
        asked = len(watch.asks)
        page.wait_for_timeout(12_000)
        assert len(watch.asks) == asked
        with paid_db() as session:
            payment = session.scalar(select(Payment).where(Payment.checkout_id == checkout_id))
            assert payment is not None and payment.status is PaymentStatus.PAID
    finally:
        standin.hold_webhooks = False
        standin.held.clear()
        context.close()


@pytest.mark.browser
def test_the_success_page_keeps_its_word_when_the_webhook_never_comes(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    _, built = paid_course
    standin.hold_webhooks = True
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page: Page = context.new_page()
    try:
        checkout_id = pay_as_visitor(page, paid_platform, standin, built.slug)
        watch = Watch(page)
        watch.for_seconds(55)
        assert 18 <= watch.first("slow") <= 21.5, watch.first("slow")
        after = [shown for at, shown in watch.samples if at >= 21.5]
        # For the whole time after: the same sentence, never a pretend enrolment or error.
        assert after and all(s["pending"] and s["slow_text"] == RECEIVED for s in after)
        assert not any(s["enrolled"] or s["failed"] or s["not_paid"] for _, s in watch.samples)
        # Still asking, less often: about every 10 seconds, never stopped.
        late = [at for at in watch.asks if at >= 21]
        assert 2 <= len(late) <= 4, watch.asks
        assert all(9 <= b - a <= 12 for a, b in itertools.pairwise(late)), late
        with paid_db() as session:
            assert session.scalar(select(Payment).where(Payment.checkout_id == checkout_id)) is None
    finally:
        standin.hold_webhooks = False
        standin.held.clear()
        context.close()


@pytest.mark.browser
def test_a_cancelled_or_failed_payment_says_so_and_nothing_is_charged(
    paid_platform: Platform,
    standin: StripeStandIn,
    paid_db: Callable[[], Session],
    paid_course: tuple[Account, BuiltCourse],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    _, built = paid_course
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page: Page = context.new_page()
    try:
        # Back on Stripe's page: CourseHub says that nothing was charged.
        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        page.locator("#buy_button").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(standin.base_url)}/checkout/"))
        abandoned = page.url.rsplit("/", 1)[1]
        page.locator("#cancel_link").click()
        expect(page.locator("#purchase_cancelled")).to_contain_text("nothing was charged")
        page.locator("#cancelled_course_link").click()
        expect(page.locator("#buy_button")).to_be_visible()
        # The success address of a checkout that expired unpaid says so instead of waiting.
        standin.settle(abandoned, "expired")
        page.goto(f"{paid_platform.service_url}/payments/success?session_id={abandoned}")
        expect(page.locator("#purchase_not_paid")).to_be_visible(timeout=10_000)
        expect(page.locator("#purchase_pending")).to_be_hidden()

        # A bank debit that failed after the checkout completed.
        page.goto(f"{paid_platform.service_url}/courses/{built.slug}")
        page.locator("#buy_button").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(standin.base_url)}/checkout/"))
        debit = page.url.rsplit("/", 1)[1]
        standin.settle(debit, "complete", "unpaid", intent="requires_payment_method")
        page.goto(f"{paid_platform.service_url}/payments/success?session_id={debit}")
        expect(page.locator("#purchase_failed")).to_be_visible(timeout=10_000)
        expect(page.locator("#purchase_failed")).to_contain_text("did not go through")
        expect(page.locator("#purchase_catalog_link")).to_be_visible()
        with paid_db() as session:
            found = session.scalar(
                select(func.count())
                .select_from(Payment)
                .where(Payment.checkout_id.in_([abandoned, debit]))
            )
        assert found == 0
    finally:
        context.close()


def test_asking_about_many_checkouts_does_not_flood_stripe(
    paid_platform: Platform, standin: StripeStandIn
) -> None:
    """Anyone may ask how a checkout stands; one address asking about 70 made-up checkouts
    in a minute has Stripe asked at most 60 times, and gets CourseHub's own answer after."""

    def asked_of_stripe() -> int:
        return sum(1 for _method, path in standin.requests if "/v1/checkout/sessions/" in path)

    if time.time() % 60 > 40:  # the limit counts per minute: start early in one
        time.sleep(61 - time.time() % 60)
    before = asked_of_stripe()
    with httpx.Client(timeout=30) as http:
        answers = [
            http.get(
                f"{paid_platform.service_url}/api/payments/checkout/cs_test_{secrets.token_hex(12)}"
            ).json()
            for _ in range(70)
        ]
    assert all(answer["state"] == "pending" for answer in answers)
    asked = asked_of_stripe() - before
    assert 10 <= asked <= 60, asked
    assert answers[0]["provider_state"] == "unknown"  # Stripe knows no such checkout
    assert answers[-1]["provider_state"] == ""  # not asked: over the limit
