"""The visitor's pages: the landing page (``/welcome``, where the hub sends visitors of ``/``),
``/about``, ``/contact`` and ``/pricing``. Anyone may open them; signed-in people who reach the
landing page go on to their dashboard (instructors to *Teaching*), as the hub would send them.
"""

from __future__ import annotations

from tornado import web

from coursehub.hub.constants import Role
from coursehub.services import rate_limits
from coursehub.services.courses.handlers.catalog import PublicHandler
from coursehub.services.front_door import showcase
from coursehub.services.payments.config import PaymentSettings
from coursehub.services.support import tickets
from coursehub.services.support.tickets import SupportError

# The public contact form: a few requests an hour from one address, whatever it writes.
CONTACT_LIMIT = 5
CONTACT_WINDOW_S = 3600
# A field people never see; programs that fill in every field fill it in.
HONEYPOT = "website"


class FrontDoorPage(PublicHandler):
    """A page of the front door; it says whether registration is open and pricing exists."""

    def registration_open(self) -> bool:
        # Invitation-only and closed platforms give visitors no account of their own.
        return self.site.registration in ("open", "domains")

    def render_front(self, template: str, **context: object) -> None:
        self.render_page(template, registration_open=self.registration_open(), **context)


class LandingPage(FrontDoorPage):
    async def get(self) -> None:
        prefix = self.settings_obj.service_prefix
        async with self.db(read_only=True) as session:
            if self.current_user:
                account = await self.account(session)
                where = "teach" if account.role is Role.INSTRUCTOR else "dashboard"
                self.redirect(f"{prefix}/{where}")
                return
            shown = await showcase.showcase(session, prefix)
            has_pricing = await showcase.any_priced_course(session)
        self.render_front("front_door_landing.html", shown=shown, has_pricing=has_pricing)


class AboutPage(FrontDoorPage):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.viewer(session)
            has_pricing = await showcase.any_priced_course(session)
        self.render_front("front_door_about.html", has_pricing=has_pricing)


class PricingPage(FrontDoorPage):
    @property
    def payment_settings(self) -> PaymentSettings:
        return self.application.settings["payment_settings"]

    async def get(self) -> None:
        prefix = self.settings_obj.service_prefix
        async with self.db(read_only=True) as session:
            await self.viewer(session)
            courses = await showcase.priced_courses(session, prefix, self.payment_settings.currency)
        if not courses:
            raise web.HTTPError(404, "Every course here is free: there are no prices to list.")
        self.render_front("front_door_pricing.html", courses=courses)


class ContactPage(FrontDoorPage):
    async def get(self) -> None:
        if await self._signed_in_goes_to_support():
            return
        self._show({}, {}, sent=self.get_query_argument("sent", "") == "1")

    async def post(self) -> None:
        if await self._signed_in_goes_to_support():
            return
        values = {key: self.get_body_argument(key, "") for key in ("email", "subject", "message")}
        try:
            await rate_limits.check_rate(
                self.application.settings["redis"],
                f"contact:{self.request.remote_ip}",
                CONTACT_LIMIT,
                CONTACT_WINDOW_S,
                what="messages from this address",
            )
        except rate_limits.RateLimited as limited:
            self.set_header("Retry-After", str(limited.retry_after))
            self._show({"form": limited.message}, values, status=429)
            return
        prefix = self.settings_obj.service_prefix
        if self.get_body_argument(HONEYPOT, ""):
            # Filled in by a program, not a person: nothing is kept, and it is not told so.
            self.redirect(f"{prefix}/contact?sent=1", status=303)
            return
        async with self.db() as session:
            try:
                await tickets.open_visitor_ticket(session, **values)
            except SupportError as error:
                await session.rollback()
                self._show(dict(error.problems), values, status=error.status)
                return
            await session.commit()
        self.redirect(f"{prefix}/contact?sent=1", status=303)

    async def _signed_in_goes_to_support(self) -> bool:
        """Signed-in people ask through *Support*, where their requests and answers are."""
        if not self.current_user:
            return False
        self.redirect(f"{self.settings_obj.service_prefix}/support", status=303)
        return True

    def _show(
        self,
        errors: dict[str, str],
        values: dict[str, str],
        *,
        status: int = 200,
        sent: bool = False,
    ) -> None:
        self.set_status(status)
        self.render_front(
            "front_door_contact.html",
            errors=errors,
            values=values,
            sent=sent,
            honeypot=HONEYPOT,
            max_subject=tickets.MAX_SUBJECT,
            max_message=tickets.MAX_MESSAGE,
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/welcome", LandingPage),
        (f"{prefix}/about", AboutPage),
        (f"{prefix}/contact", ContactPage),
        (f"{prefix}/pricing", PricingPage),
    ]
