"""LTI Dynamic Registration pages (``dynamic_registration`` holds the exchange):

- ``/lti/register``: CourseHub's registration initiation URL, for an administrator signed in
  to CourseHub in the window the LMS opens; the LMS adds ``openid_configuration`` and
  ``registration_token``. GET shows what the LMS says about itself and a *Register* button;
  POST (XSRF-checked) registers.
- ``/lti/register/<token>``: the same with a one-time link an administrator made (for an LMS
  window without CourseHub's sign-in, such as a third-party iframe); the link is spent by the
  POST that registers, and the link itself is the proof (no XSRF cookie inside an iframe).
- ``/lti/registration-links``: POST (administrators) makes a one-time link, shown on the LMS
  platforms page.

Registered (or updated), the page says so and tells the LMS to close its window
(``postMessage({subject: 'org.imsglobal.lti.close'})``). A refusal is a page with a sentence,
and nothing registered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.lti import dynamic_registration as dynamic
from coursehub.services.lti import platforms
from coursehub.services.lti.handlers.lti import LtiHandler

LINK_PATTERN = r"([A-Za-z0-9_-]{20,64})"


class RegistrationBase(LtiHandler):
    """What both ways of registering share: reading the LMS, the exchange, the pages."""

    def params(self) -> tuple[str, str]:
        url = self.get_argument("openid_configuration", "").strip()
        token = self.get_argument("registration_token", "").strip()
        if not url:
            raise dynamic.refusal(
                "the LMS did not say where its OpenID configuration is (openid_configuration); "
                "start the registration from the LMS's tool registration page"
            )
        return url, token[:4000]

    def tool(self) -> dynamic.ToolUrls:
        urls = self.tool_urls()
        return dynamic.ToolUrls(
            public_url=self.settings_obj.public_url,
            login_url=urls["login_url"],
            launch_url=urls["launch_url"],
            jwks_url=urls["jwks_url"],
        )

    def let_lms_frame(self, url: str) -> None:
        # The LMS shows this page in its own window or iframe.
        parts = urlsplit(url)
        frame = getattr(self, "frame_by_lms", None)
        if frame is not None and parts.scheme in ("http", "https") and parts.netloc:
            frame([f"{parts.scheme}://{parts.netloc}"])

    async def confirm(self, action: str, *, link: bool) -> None:
        url, token = self.params()
        self.let_lms_frame(url)
        if not link:
            # Administrators only, before CourseHub fetches any address it was given.
            async with self.db(read_only=True) as session:
                await self.account(session)
        async with dynamic.http_client() as http:
            found = await dynamic.platform_configuration(http, url, https_only=self.https)
        async with self.db(read_only=True) as session:
            existing = await dynamic.already_registered(session, found.issuer)
        self.render_page(
            "lti_registration.html",
            platform=found,
            existing=existing,
            action=action,
            openid_configuration=url,
            registration_token=token,
            link=link,
        )

    async def register(self, *, link_token: str = "") -> None:
        url, token = self.params()
        self.let_lms_frame(url)
        async with self.db() as session:
            if link_token:
                dynamic.link_admin(self.application.settings["lti_redis"], link_token)
            else:
                await self.account(session)
            async with dynamic.http_client() as http:
                found = await dynamic.platform_configuration(http, url, https_only=self.https)
                existing = await dynamic.already_registered(session, found.issuer)
                if len(existing) > 1:
                    raise dynamic.refusal(
                        f"{found.issuer} is registered {len(existing)} times already; delete "
                        "the ones not in use on CourseHub's LMS platforms page first",
                        409,
                    )
                configuration = dynamic.tool_configuration(self.tool(), found)
                registered = await dynamic.send_registration(http, found, configuration, token)
            outcome = await dynamic.keep(session, found, registered)
            if link_token:
                # Spent only now: a registration the LMS refused may be tried again.
                dynamic.link_admin(self.application.settings["lti_redis"], link_token, use=True)
            await session.commit()
            platform = outcome.platform
        self.render_page(
            "lti_registration_done.html",
            platform=platform,
            updated=outcome.updated,
            deployment_id=registered.deployment_id,
        )


class AdminRegistration(RegistrationBase):
    """``/lti/register``: for an administrator signed in to CourseHub."""

    min_role = Role.ADMIN

    async def get(self) -> None:
        await self.confirm(self.request.path, link=False)

    async def post(self) -> None:
        await self.register()


class LinkRegistration(RegistrationBase):
    """``/lti/register/<token>``: with an administrator's one-time link."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """The one-time link is the proof; an LMS's iframe may keep no CourseHub cookie."""

    async def get(self, token: str) -> None:
        dynamic.link_admin(self.application.settings["lti_redis"], token)
        await self.confirm(self.request.path, link=True)

    async def post(self, token: str) -> None:
        await self.register(link_token=token)


class RegistrationLinks(LtiHandler):
    """``POST /lti/registration-links``: a one-time registration link (administrators)."""

    min_role = Role.ADMIN

    async def post(self) -> None:
        async with self.db(read_only=True) as session:
            admin = await self.account(session)
            found = await platforms.all_platforms(session)
        token = dynamic.make_link(self.application.settings["lti_redis"], admin.id)
        base = f"{self.settings_obj.public_url}{self.settings_obj.service_prefix}/lti/register"
        self.render_page(
            "lti_registration_link.html",
            link=f"{base}/{token}",
            hours=dynamic.LINK_SECONDS // 3600,
            count=len(found),
        )


def default_handlers(prefix: str) -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (rf"{prefix}/lti/register", AdminRegistration),
        (rf"{prefix}/lti/register/{LINK_PATTERN}", LinkRegistration),
        (rf"{prefix}/lti/registration-links", RegistrationLinks),
    ]
