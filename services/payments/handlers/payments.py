"""Paid-course pages and endpoints: Buy, the provider's webhook, the success page that waits
for the enrolment, purchase history, sales (with CSV and refunds) and a course's prices.

The webhook is the only way a payment enrolls anyone: the success page only asks how the
purchase stands. It answers 400 to a request that does not verify (nothing recorded), and 200
to an event CourseHub cannot act on (an unknown course: logged, nothing recorded, so the
provider stops resending it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services import mail, rate_limits
from coursehub.services.courses import enrollment
from coursehub.services.errors import Refusal
from coursehub.services.lessons.lesson_kernels import visitor_address
from coursehub.services.models import Account, Course, utcnow
from coursehub.services.payments import checkout, payment_events, prices, refunds, sales
from coursehub.services.payments.config import PaymentSettings
from coursehub.services.payments.provider import BadWebhook, CheckoutStarted, PaymentProvider
from coursehub.services.payments.wiring import STATIC
from coursehub.services.web.base import BaseHandler

log = logging.getLogger(__name__)

SLUG = r"([a-z0-9][a-z0-9-]{0,119})"
CHECKOUT_ID = r"([A-Za-z0-9_]{1,255})"
MAX_WEBHOOK_BYTES = 1_000_000
# How long the success page waits, asking often, before it says that the enrolment will come
# by itself and the buyer may leave (it then asks less often).
PATIENCE = timedelta(seconds=20)
# How often one address may have the provider asked about checkouts, per minute (a waiting
# page asks about a dozen times in its first minute).
PROVIDER_ASKS_PER_MINUTE = 60
DONE = {
    "refund": "The refund is asked of the payment provider; the sale shows as refunded "
    "once it confirms, and the student's access closes then."
}


class PaymentsHandler(BaseHandler):
    @property
    def payment_settings(self) -> PaymentSettings:
        return self.application.settings["payment_settings"]

    @property
    def provider(self) -> PaymentProvider:
        provider = self.application.settings.get("payment_provider")
        if provider is None:
            raise Refusal(
                f"{enrollment.PAYMENT_UNAVAILABLE} (No payment provider is configured.)", 402
            )
        return provider

    async def viewer(self, session: Any) -> Account | None:
        return await self.account(session) if self.current_user else None

    def send_mail(self, messages: list[Any]) -> None:
        for message in messages:
            self.application.settings["background"](mail.send_later(self.settings_obj, message))


class BuyForm(PaymentsHandler):
    """``POST /courses/<slug>/buy``: to the provider's checkout page (visitors too), or for
    staff straight into the course. A course with prices in several currencies and no
    ``currency`` chosen shows them to choose from."""

    public = True

    async def post(self, slug: str) -> None:
        provider = self.provider
        prefix = self.settings_obj.service_prefix
        currency = self.get_body_argument("currency", "").strip()
        async with self.db() as session:
            buyer = await self.viewer(session)
            course = enrollment.check_visible(buyer, await enrollment.course_by_slug(session, slug))
            offered = await prices.prices_of(session, course, self.payment_settings.currency)
            if not currency and len(offered) > 1 and not _staff(buyer):
                self.render_page("payments_choose.html", course=course, prices=offered)
                return
            started = await checkout.start(
                session,
                provider,
                self.settings_obj,
                self.payment_settings,
                course,
                buyer,
                currency or self.payment_settings.currency,
            )
            await session.commit()
        if isinstance(started, CheckoutStarted):
            self.redirect(started.url, status=303)
        else:
            self.redirect(f"{prefix}/courses/{slug}?done=enrolled", status=303)


def _staff(account: Account | None) -> bool:
    return account is not None and account.role in checkout.STAFF_ROLES


class WebhookHandler(PaymentsHandler):
    """``POST /payments/webhook``: the provider's events, verified before anything is read."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """The provider signs its requests; it has no form token (the signature is checked)."""

    async def prepare(self) -> None:
        """Nobody is signed in here: the signature says who sent it."""

    async def post(self) -> None:
        if len(self.request.body) > MAX_WEBHOOK_BYTES:
            self.write_json({"error": "The webhook body is larger than 1 MB."}, 413)
            return
        try:
            event = self.provider.parse_webhook(self.request.body, self.request.headers)
        except BadWebhook as error:
            log.warning("Refused a payment webhook: %s", error.message)
            self.write_json({"error": error.message}, 400)
            return
        async with self.db() as session:
            try:
                outcome = await payment_events.handle_event(session, event, self.settings_obj)
            except payment_events.IgnoredEvent as ignored:
                await session.rollback()
                log.warning("Payment event %s ignored: %s", event.event_id, ignored)
                self.write_json({"received": True, "result": "ignored"})
                return
            await session.commit()
        self.send_mail(outcome.mail)
        self.write_json({"received": True, "result": outcome.result})


class SuccessPage(PaymentsHandler):
    """Where the provider sends the buyer back: waits live until the webhook has enrolled
    them (the page asks ``/api/payments/checkout/<id>``), for ``PATIENCE`` with a progress
    bar, then with a sentence saying the enrolment comes by itself (and by email)."""

    public = True

    async def get(self) -> None:
        checkout_id = self.get_query_argument("session_id", "")
        if not checkout_id or len(checkout_id) > 255 or not checkout_id.replace("_", "").isalnum():
            raise Refusal(
                "This address does not name a checkout. Open your course from the "
                "catalog, or look in your email for the receipt.",
                404,
            )
        async with self.db(read_only=True) as session:
            if self.current_user:
                await self.account(session)
            state = await checkout.state_of(session, checkout_id, self.settings_obj.service_prefix)
        provider = self.application.settings.get("payment_provider")
        self.render_page(
            "payments_success.html",
            checkout_id=checkout_id,
            state=state,
            patience_ms=int(PATIENCE.total_seconds() * 1000),
            provider_label=provider.label if provider is not None else "the payment provider",
        )


class CancelledPage(PaymentsHandler):
    """Where the provider sends a buyer who cancels on its hosted page: nothing was charged."""

    public = True

    async def get(self) -> None:
        slug = self.get_query_argument("course", "")
        course = None
        if slug and len(slug) <= 120:
            async with self.db(read_only=True) as session:
                if self.current_user:
                    await self.account(session)
                course = await session.scalar(select(Course).where(Course.slug == slug))
        self.render_page("payments_cancelled.html", course=course)


class CheckoutStateAPI(PaymentsHandler):
    """``GET /api/payments/checkout/<id>``: pending, enrolled, paid (not enrolled) or refunded;
    while nothing is recorded, failed or not_paid when the provider says so (a pending one
    says what the provider says: paid, processing or unknown)."""

    public = True

    async def get(self, checkout_id: str) -> None:
        async with self.db(read_only=True) as session:
            state = await checkout.state_of(session, checkout_id, self.settings_obj.service_prefix)
        provider = await self._provider_to_ask()
        state = await checkout.with_provider_progress(state, provider, checkout_id)
        self.set_header("Cache-Control", "no-store")
        self.write_json(state.as_json())

    async def _provider_to_ask(self) -> PaymentProvider | None:
        """The provider, unless this address has asked about too many checkouts this minute
        (anyone may ask: the provider is not to be flooded through CourseHub); then the
        answer is CourseHub's own record alone."""
        provider = self.application.settings.get("payment_provider")
        if provider is None:
            return None
        address = visitor_address(
            self.request.headers.get("X-Forwarded-For"), self.request.remote_ip
        )
        try:
            await rate_limits.check_rate(
                self.application.settings["redis"],
                f"checkout-state:{address}",
                PROVIDER_ASKS_PER_MINUTE,
                60,
            )
        except rate_limits.RateLimited:
            return None
        return provider


class PurchasesPage(PaymentsHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await sales.purchases_of(session, account)
        self.render_page("payments_history.html", purchases=mine)


class PurchasesAPI(PaymentsHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await sales.purchases_of(session, account)
        self.write_json({"items": [sale.as_json() for sale in mine]})


class SalesPage(PaymentsHandler):
    min_role = Role.INSTRUCTOR

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            rows = await sales.sales_for(session, account)
        self.render_page(
            "payments_sales.html",
            sales=rows,
            refund_days=self.payment_settings.refund_days,
            is_admin=account.role is Role.ADMIN,
            notice=DONE.get(self.get_query_argument("done", ""), ""),
        )


class SalesCSV(PaymentsHandler):
    min_role = Role.INSTRUCTOR

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            rows = await sales.sales_for(session, account)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", 'attachment; filename="coursehub-sales.csv"')
        self.finish(sales.as_csv(rows))


class SalesAPI(PaymentsHandler):
    min_role = Role.INSTRUCTOR

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            rows = await sales.sales_for(session, account)
        self.write_json({"items": [sale.as_json() for sale in rows]})


class RefundHandler(PaymentsHandler):
    """``POST /api/payments/<id>/refund`` (JSON) and ``/sales/<id>/refund`` (the sales page's
    form)."""

    min_role = Role.INSTRUCTOR

    async def post(self, payment_id: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            provider = self.provider
            payment = await refunds.request_refund(
                session,
                provider,
                account,
                int(payment_id),
                self.payment_settings.refund_days,
                utcnow(),
            )
            sale = sales.sale_of(payment, None)
        if self.is_api:
            self.write_json(sale.as_json(), 202)
        else:
            self.redirect(f"{self.settings_obj.service_prefix}/sales?done=refund", status=303)


class PricesAPI(PaymentsHandler):
    """``GET /api/courses/<slug>/prices`` (anyone who may see the course) and ``PUT`` (its
    instructor or an administrator): ``{"currency": "eur", "amount_cents": 4500}``, or
    ``"amount_cents": null`` to stop selling in that currency."""

    public = True

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            viewer = await self.viewer(session)
            course = enrollment.check_visible(
                viewer, await enrollment.course_by_slug(session, slug)
            )
            body = await self._prices(session, course)
        self.write_json(body)

    async def put(self, slug: str) -> None:
        body = self.json_body()
        currency, amount = body.get("currency"), body.get("amount_cents")
        if not isinstance(currency, str):
            raise Refusal('Give the currency as a 3-letter code, such as "eur".', field="currency")
        if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
            raise Refusal("Give amount_cents as a whole number, or null.", field="amount_cents")
        async with self.db() as session:
            account = await self.account(session)
            course = enrollment.check_visible(
                account, await enrollment.course_by_slug(session, slug)
            )
            if not enrollment.is_staff_of(account, course):
                raise Refusal(
                    "Only the course's instructor or an administrator can set its prices.", 403
                )
            await prices.set_price(
                session, course, currency, amount, self.payment_settings.currency
            )
            await session.commit()
            result = await self._prices(session, course)
        self.write_json(result)

    async def _prices(self, session: Any, course: Course) -> dict[str, Any]:
        offered = await prices.prices_of(session, course, self.payment_settings.currency)
        return {
            "payments_enabled": self.payment_settings.enabled,
            "prices": [
                {"currency": p.currency, "amount_cents": p.amount_cents, "label": p.label}
                for p in offered
            ],
        }


class PricesPage(PaymentsHandler):
    """``/courses/<slug>/prices``: the course's staff see its prices and add, change or remove
    its prices in other currencies."""

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            course = await self._course(session, slug)
            offered = await prices.prices_of(session, course, self.payment_settings.currency)
        saved = self.get_query_argument("done", "") == "saved"
        self._render(course, offered, notice="The prices are saved." if saved else "")

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            course = await self._course(session, slug)
            currency = self.get_body_argument("currency", "")
            raw = self.get_body_argument("amount", "")
            try:
                code = prices.check_currency(currency)
                amount = (
                    None
                    if self.get_body_argument("remove", "")
                    else (prices.parse_amount(raw, code))
                )
                await prices.set_price(
                    session, course, code, amount, self.payment_settings.currency
                )
            except Refusal as error:
                # Refused before anything was written (set_price checks first).
                offered = await prices.prices_of(session, course, self.payment_settings.currency)
                self.set_status(error.status)
                self._render(course, offered, problem=error.message)
                return
            await session.commit()
        self.redirect(
            f"{self.settings_obj.service_prefix}/courses/{slug}/prices?done=saved", status=303
        )

    async def _course(self, session: Any, slug: str) -> Course:
        account = await self.account(session)
        course = enrollment.check_visible(account, await enrollment.course_by_slug(session, slug))
        if not enrollment.is_staff_of(account, course):
            raise Refusal(
                "Only the course's instructor or an administrator can set its prices.", 403
            )
        return course

    def _render(
        self, course: Course, offered: list[prices.Price], notice: str = "", problem: str = ""
    ) -> None:
        self.render_page(
            "payments_prices.html",
            course=course,
            prices=offered,
            default_currency=self.payment_settings.currency,
            notice=notice,
            problem=problem,
        )


def default_handlers(prefix: str) -> list[tuple[Any, ...]]:
    return [
        (f"{prefix}/payments/static/(.*)", web.StaticFileHandler, {"path": str(STATIC)}),
        (f"{prefix}/courses/{SLUG}/buy", BuyForm),
        (f"{prefix}/courses/{SLUG}/prices", PricesPage),
        (f"{prefix}/payments/webhook", WebhookHandler),
        (f"{prefix}/payments/success", SuccessPage),
        (f"{prefix}/payments/cancelled", CancelledPage),
        (f"{prefix}/payments/?", PurchasesPage),
        (f"{prefix}/sales/?", SalesPage),
        (f"{prefix}/sales\\.csv", SalesCSV),
        (f"{prefix}/sales/(\\d+)/refund", RefundHandler),
        (f"{prefix}/api/payments/checkout/{CHECKOUT_ID}", CheckoutStateAPI),
        (f"{prefix}/api/payments/(\\d+)/refund", RefundHandler),
        (f"{prefix}/api/me/payments", PurchasesAPI),
        (f"{prefix}/api/sales", SalesAPI),
        (f"{prefix}/api/courses/{SLUG}/prices", PricesAPI),
    ]
