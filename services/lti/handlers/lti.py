"""LTI 1.3 pages and endpoints: the platform's OIDC login initiation and launch (public: the
platform's signature and the browser's state cookie say who comes), CourseHub's JWKS, and
the administrators' registration of platforms (page and API) and key rotation."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from redis.exceptions import RedisError
from sqlalchemy import func, select
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.accounts import sign_in_tickets
from coursehub.services.courses import enrollment
from coursehub.services.courses.membership import membership
from coursehub.services.jobs.queue import defer
from coursehub.services.lti import (
    deep_linking,
    frame_origins,
    launch,
    launch_people,
    line_items,
    platform_storage,
    platforms,
    roster,
    scores,
    tool_keys,
)
from coursehub.services.lti.platforms import LtiError, PlatformForm
from coursehub.services.lti.pylti1p3_adapters import (
    CookieToSet,
    DatabaseToolConf,
    LtiRequest,
    PlatformSnapshot,
)
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    LtiContext,
    LtiLineItem,
    LtiPlatform,
    LtiScorePost,
    Quiz,
)
from coursehub.services.web.base import BaseHandler

log = logging.getLogger(__name__)
# Set by the login page inside an LMS's iframe; ``/lti/cookie-check`` says if it came back.
CHECK_COOKIE = "lti1p3-check"

FIELDS = [
    ("name", "Name", "Moodle of Example University"),
    ("issuer", "Issuer (iss)", "https://lms.example.edu"),
    ("client_id", "Client id", "as the LMS shows it"),
    ("deployment_ids", "Deployment ids (one a line)", "1"),
    ("auth_login_url", "OIDC authorisation URL", "https://lms.example.edu/mod/lti/auth.php"),
    ("auth_token_url", "Access token URL", "https://lms.example.edu/mod/lti/token.php"),
    ("key_set_url", "Platform JWKS URL", "https://lms.example.edu/mod/lti/certs.php"),
    ("course", "Course address (launches open it unless they name one)", "python-data"),
]


class LtiHandler(BaseHandler):
    @property
    def https(self) -> bool:
        return self.settings_obj.public_url.startswith("https://")

    def tool_urls(self) -> dict[str, str]:
        base = f"{self.settings_obj.public_url}{self.settings_obj.service_prefix}/lti"
        return {
            "login_url": f"{base}/login",
            "launch_url": f"{base}/launch",
            "jwks_url": f"{base}/jwks",
        }

    def lti_request(self) -> LtiRequest:
        params = {name: self.get_argument(name, "") for name in self.request.arguments}
        cookies = {name: morsel.value for name, morsel in self.request.cookies.items()}
        return LtiRequest(params, cookies, self.https)

    def set_lti_cookie(self, name: str, value: str, max_age: int | None, path: str) -> None:
        # Inside the LMS's iframe the cookie is third-party: SameSite=None, which browsers
        # accept only with Secure, so over plain http it stays Lax (same-site launches only).
        self.set_cookie(
            name,
            value,
            path=path,
            httponly=True,
            max_age=max_age,
            samesite="None" if self.https else "Lax",
            secure=self.https,
        )

    @property
    def in_frame(self) -> bool:
        """Whether the browser loads this into a frame (an LMS's iframe)."""
        return self.request.headers.get("Sec-Fetch-Dest", "") in ("iframe", "frame")

    @property
    def lti_path(self) -> str:
        return f"{self.settings_obj.service_prefix}/lti"

    def write_lti_cookies(self, cookies: list[CookieToSet]) -> None:
        for cookie in cookies:
            self.set_lti_cookie(
                cookie.name, cookie.value, cookie.max_age, f"{self.settings_obj.service_prefix}/lti"
            )

    async def tool_config(self, issuer: str) -> DatabaseToolConf:
        async with self.db(read_only=True) as session:
            found = await platforms.for_issuer(session, issuer) if issuer else []
            return DatabaseToolConf([PlatformSnapshot.of(p) for p in found])


class LoginInitiation(LtiHandler):
    """``GET|POST /lti/login``: the platform's third-party login initiation; answers with a
    redirect to the platform's authorisation endpoint and a state cookie for this browser."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """The platform posts here from its own site; the state and nonce protect the flow."""

    async def get(self) -> None:
        request = self.lti_request()
        config = await self.tool_config(request.get_param("iss"))
        snapshot = config.platform_for(request.get_param("iss"), request.get_param("client_id"))
        if snapshot is not None:
            self.frame_by_lms(frame_origins.of_platform(snapshot))
        client = self.application.settings["lti_redis"]
        answer = await asyncio.to_thread(
            launch.start_login, request, config, client, self.tool_urls()["launch_url"]
        )
        self.write_lti_cookies(answer.cookies)
        params = launch.login_params(request)
        # The platform's storage frame, where it offers one (LTI client-side postMessages).
        target = platform_storage.storage_target(request.get_param(platform_storage.PARAM))
        origin = platform_storage.platform_origin(snapshot.auth_login_url) if snapshot else ""
        target = target if origin else ""
        await asyncio.to_thread(launch.keep_login, client, answer.state, params, target)
        if self.in_frame and not request.get_param(launch.NEW_WINDOW):
            # Inside the LMS's iframe the browser may keep CourseHub's cookies out: the page
            # checks first; without them it keeps the state and nonce in the platform's
            # storage, or offers a new window instead of a sign-in going round in circles.
            self.set_lti_cookie(CHECK_COOKIE, "1", 300, self.lti_path)
            self.set_header("Cache-Control", "no-store")
            query = parse_qs(urlsplit(answer.location).query)
            self.render_page(
                "lti_login_check.html",
                auth_url=answer.location,
                check_url=f"{self.lti_path}/cookie-check",
                new_window_url=launch.new_window_url(self.tool_urls()["login_url"], params),
                storage_target=target,
                platform_origin=origin,
                state_key=platform_storage.state_key(answer.state),
                state=answer.state,
                nonce_key=platform_storage.nonce_key(query.get("nonce", [""])[0]),
                nonce=query.get("nonce", [""])[0],
            )
            return
        self.redirect(answer.location)

    async def post(self) -> None:
        await self.get()


class LaunchHandler(LtiHandler):
    """``POST /lti/launch``: the platform's id_token, validated, then the person signed in to
    the hub (a sign-in ticket through its welcome page) and sent to the launch's target."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """The platform posts here; the id_token's signature, state and nonce are the proof."""

    async def post(self) -> None:
        request = self.lti_request()
        id_token = request.get_param("id_token")
        if not id_token:
            raise launch.refusal("the platform sent no id_token")
        issuer = str(launch.unverified_claims(id_token).get("iss", ""))
        config = await self.tool_config(issuer)
        for registered in config.platforms:  # its refusals show inside the LMS's iframe too
            self.frame_by_lms(frame_origins.of_platform(registered))
        client = self.application.settings["lti_redis"]
        try:
            valid = await asyncio.to_thread(launch.validate_launch, request, config, client)
        except launch.StateCookieMissing:
            state = request.get_param("state")
            params = await asyncio.to_thread(launch.login_of, client, state)
            if not (self.in_frame and params):
                raise
            target = await asyncio.to_thread(launch.storage_target_of, client, state)
            if target:
                await self.ask_platform_storage(config, issuer, id_token, state, target, params)
                return
            # The browser kept the state cookie out of the LMS's iframe: the same link in a
            # window of its own, where CourseHub is not a third party, instead of a refusal.
            self.set_status(200)
            self.render_page(
                "lti_launch_new_window.html",
                new_window_url=launch.new_window_url(self.tool_urls()["login_url"], params),
            )
            return
        account_id, next_url = await self.admit(config, issuer, valid)
        try:
            ticket = await sign_in_tickets.issue(self.application.settings["redis"], account_id)
        except (RedisError, OSError):
            raise LtiError(
                "CourseHub could not sign you in just now; launch again in a minute.", 503
            ) from None
        self.set_lti_cookie(
            sign_in_tickets.COOKIE,
            ticket,
            sign_in_tickets.LIFETIME_SECONDS,
            sign_in_tickets.WELCOME_PATH,
        )
        self.redirect(f"{sign_in_tickets.WELCOME_PATH}?{urlencode({'next': next_url})}", status=303)

    async def ask_platform_storage(
        self,
        config: DatabaseToolConf,
        issuer: str,
        id_token: str,
        state: str,
        target: str,
        params: dict[str, str],
    ) -> None:
        """No state cookie came back into the LMS's iframe, but the platform keeps the state
        and nonce in its storage: the launch waits here while the page reads them back."""
        claims = launch.unverified_claims(id_token)
        audience = claims.get("aud")
        audience = audience[0] if isinstance(audience, list) and audience else audience
        snapshot = config.platform_for(issuer, str(audience or "") or None)
        if snapshot is None:
            raise launch.refusal("no platform with this issuer and client id is registered", 401)
        await platform_storage.keep_pending(self.application.settings["redis"], state, id_token)
        nonce = str(claims.get("nonce", ""))
        self.set_status(200)
        self.set_header("Cache-Control", "no-store")
        self.render_page(
            "lti_launch_storage.html",
            storage_target=target,
            platform_origin=platform_storage.platform_origin(snapshot.auth_login_url),
            state=state,
            state_key=platform_storage.state_key(state),
            nonce_key=platform_storage.nonce_key(nonce),
            verify_url=f"{self.lti_path}/launch/storage",
            continue_url=f"{self.lti_path}/continue",
            new_window_url=launch.new_window_url(self.tool_urls()["login_url"], params),
        )

    async def admit(
        self, config: DatabaseToolConf, issuer: str, valid: launch.ValidLaunch
    ) -> tuple[int, str]:
        """The validated launch's person placed (found or made, enrolled, their LMS context
        remembered): their account id and the CourseHub address the launch opens."""
        client_id = valid.claims["aud"]
        client_id = client_id[0] if isinstance(client_id, list) else client_id
        snapshot = config.platform_for(issuer, str(client_id))
        if snapshot is None:
            raise launch.refusal("no platform with this issuer and client id is registered", 401)
        try:
            # The pages this launch leads to may be shown in this LMS's iframe.
            await frame_origins.remember(
                self.application.settings["redis"], frame_origins.of_launch(snapshot, valid.claims)
            )
        except (RedisError, OSError) as error:
            log.warning("LTI frame origins not remembered (%s)", error)
        async with self.db() as session:
            platform = await session.get(LtiPlatform, snapshot.id)
            if platform is None:
                raise launch.refusal("this platform's registration was just deleted", 401)
            picker_settings = self.deep_linking_settings(valid)
            placed = await launch_people.place(session, platform, valid)
            if picker_settings is not None:
                # Content is chosen on CourseHub's picker, by the person this request signed in.
                token = deep_linking.keep(
                    self.application.settings["lti_redis"],
                    deep_linking.PickerRequest(
                        platform.id,
                        valid.deployment_id,
                        placed.account.id,
                        placed.course.id,
                        picker_settings,
                    ),
                )
                placed = replace(placed, target=f"/lti/deep-link/{token}")
            context = await line_items.remember_context(session, platform, placed.course, valid)
            context_id = context.id if context is not None else None
            if context is not None:
                # The LMS offers its roster (NRPS): synced by the job queue, not here.
                await roster.remember(session, context, valid)
            if context is not None and context.lineitems_url:
                # Scores already released reach the LMS without waiting for the next sweep.
                await defer(
                    session,
                    scores.SYNC_TASK,
                    scores.PASSBACK_QUEUE,
                    passback_course=placed.course.id,
                )
            await session.commit()
        if context_id is not None:
            await self.ensure_line_item(snapshot.id, context_id, placed.course.id, valid)
        log.info(
            "LTI launch from %s: %s in %s (%s)",
            platform.issuer,
            placed.account.username,
            placed.course.slug,
            "staff" if placed.staff else "student",
        )
        return placed.account.id, f"{self.settings_obj.service_prefix}{placed.target}"

    def deep_linking_settings(self, valid: launch.ValidLaunch) -> dict[str, Any] | None:
        """A deep-linking request's settings (None for a resource link); only staff choose
        content, and only with a return address."""
        if not valid.deep_linking:
            return None
        if launch_people.place_for_roles(valid.roles) != "staff":
            raise launch.refusal(
                "only an instructor or teaching assistant chooses CourseHub content for the "
                "LMS course",
                403,
            )
        return deep_linking.settings_of(valid.claims)

    async def ensure_line_item(
        self, platform_id: int, context_id: int, course_id: int, valid: launch.ValidLaunch
    ) -> None:
        """A launch into an assignment or a quiz makes sure its line item exists on the
        platform."""
        named = [
            (model, value)
            for kind, model in (("assignment", Assignment), ("quiz", Quiz))
            if (value := valid.custom.get(kind, "").strip()).isdigit() and len(value) < 10
        ]
        if not named:
            return
        model, row_id = named[0]
        async with self.db() as session:
            assessment: Assignment | Quiz | None = await session.get(model, int(row_id))
            context = await session.get(LtiContext, context_id)
            platform = await session.get(LtiPlatform, platform_id)
            if assessment is None or assessment.course_id != course_id:
                return
            if context is None or platform is None:
                return
            # The service token is signed with this key: platforms must find it published.
            await tool_keys.signing_key(session)
            await session.commit()
            await line_items.ensure_line_item(session, platform, context, assessment)
            await session.commit()


_PLAIN_STORAGE_STATE = (
    "this browser did not start the launch (your LMS's storage does not hold its state)"
)


class StorageLaunch(LaunchHandler):
    """``POST /lti/launch/storage``: a launch kept while its page read the state and nonce
    back from the platform's storage (replies from the platform's origin only), validated as
    strictly as with the state cookie; the answer is a continuation ticket that the page
    gives only to the CourseHub window it opens (the hub's sign-in needs a cookie there)."""

    async def post(self) -> None:
        state = self.get_body_argument("state", "")
        stored_state = self.get_body_argument("stored_state", "")
        stored_nonce = self.get_body_argument("stored_nonce", "")
        redis = self.application.settings["redis"]
        id_token = await platform_storage.take_pending(redis, state)
        if id_token is None:
            raise launch.refusal(
                "this launch is unknown or was already completed (launches wait five minutes)",
                401,
            )
        claims = launch.unverified_claims(id_token)
        if not stored_state:
            raise launch.refusal(_PLAIN_STORAGE_STATE, 401)
        if not stored_nonce or stored_nonce != str(claims.get("nonce", "")):
            raise launch.refusal(
                "this browser did not start the launch (your LMS's storage does not hold its "
                "nonce)",
                401,
            )
        issuer = str(claims.get("iss", ""))
        config = await self.tool_config(issuer)
        request = LtiRequest({"id_token": id_token, "state": state}, {}, self.https)
        client = self.application.settings["lti_redis"]
        valid = await asyncio.to_thread(
            launch.validate_launch, request, config, client, stored_state
        )
        account_id, next_url = await self.admit(config, issuer, valid)
        ticket = await platform_storage.issue_continuation(redis, account_id, next_url)
        self.set_header("Cache-Control", "no-store")
        self.write_json({"ticket": ticket})


class ContinueInNewWindow(LtiHandler):
    """``GET|POST /lti/continue``: the new window a launch validated inside the LMS's iframe
    opens. Its page asks the frame that opened it (CourseHub's own origin) for the
    continuation ticket and posts it here (with XSRF: CourseHub is first party in this
    window); the ticket, used once, signs the person in to the hub and opens the target."""

    public = True

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.render_page("lti_continue.html", continue_url=f"{self.lti_path}/continue")

    async def post(self) -> None:
        redis = self.application.settings["redis"]
        found = await platform_storage.redeem_continuation(
            redis, self.get_body_argument("ticket", "")
        )
        if found is None:
            raise LtiError(
                "This continuation of your LMS's launch is unknown, used already or older than "
                "five minutes. Launch again from your course in the LMS.",
                400,
            )
        try:
            ticket = await sign_in_tickets.issue(redis, found.account_id)
        except (RedisError, OSError):
            raise LtiError(
                "CourseHub could not sign you in just now; launch again in a minute.", 503
            ) from None
        self.set_lti_cookie(
            sign_in_tickets.COOKIE,
            ticket,
            sign_in_tickets.LIFETIME_SECONDS,
            sign_in_tickets.WELCOME_PATH,
        )
        query = urlencode({"next": found.next_url})
        self.redirect(f"{sign_in_tickets.WELCOME_PATH}?{query}", status=303)


class CookieCheck(LtiHandler):
    """``GET /lti/cookie-check``: whether the login page's check cookie came back (inside an
    LMS's iframe a browser that blocks third-party cookies keeps it)."""

    public = True

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write_json({"cookies": self.get_cookie(CHECK_COOKIE) == "1"})


class JwksHandler(LtiHandler):
    """``GET /lti/jwks``: CourseHub's public keys (the signing key and recently replaced ones)."""

    public = True

    async def get(self) -> None:
        async with self.db() as session:
            jwks = await tool_keys.published_jwks(session)
            await session.commit()
        self.set_header("Cache-Control", "public, max-age=300")
        self.write_json(jwks)


class AdminLtiHandler(LtiHandler):
    min_role = Role.ADMIN

    async def course_titles(self, session: Any) -> dict[int, str]:
        rows = await session.execute(
            Course.__table__.select().with_only_columns(Course.id, Course.slug)
        )
        return {row.id: row.slug for row in rows}


class PlatformsPage(AdminLtiHandler):
    """``/lti/platforms``: the registered platforms, what to give an LMS, and the form."""

    async def get(self) -> None:
        await self.show()

    async def show(
        self, notice: str = "", problem: str = "", values: dict[str, str] | None = None
    ) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            found = await platforms.all_platforms(session)
            courses = await self.course_titles(session)
        self.render_page(
            "lti_platforms.html",
            platforms=found,
            courses=courses,
            tool=self.tool_urls(),
            fields=FIELDS,
            values=values or {},
            notice=notice,
            problem=problem,
        )

    async def post(self) -> None:
        values = {field: self.get_body_argument(field, "") for field, _, _ in FIELDS}
        async with self.db() as session:
            await self.account(session)
            try:
                platform = await platforms.register(session, PlatformForm.from_json(values))
            except LtiError as error:
                await session.rollback()
                self.set_status(error.status)
                await self.show(problem=error.message, values=values)
                return
            await session.commit()
        await self.show(notice=f"{platform.name} is registered.")


class PlatformsAPI(AdminLtiHandler):
    """``GET|POST /api/lti/platforms``: list and register platforms."""

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            found = await platforms.all_platforms(session)
        self.write_json({"platforms": [platforms.platform_json(p) for p in found]})

    async def post(self) -> None:
        form = PlatformForm.from_json(self.json_body())
        async with self.db() as session:
            await self.account(session)
            platform = await platforms.register(session, form)
            await session.commit()
            self.write_json(platforms.platform_json(platform), 201)


class PlatformAPI(AdminLtiHandler):
    """``DELETE /api/lti/platforms/<id>``: a registration removed (its people keep their
    accounts; their links to that platform go)."""

    async def delete(self, platform_id: str) -> None:
        async with self.db() as session:
            await self.account(session)
            platform = await session.get(LtiPlatform, int(platform_id))
            if platform is None:
                raise LtiError("There is no such LMS registration.", 404)
            await session.delete(platform)
            await session.commit()
        self.set_status(204)


class KeyRotationAPI(AdminLtiHandler):
    """``POST /api/lti/keys/rotate``: a new signing key; the old one stays published."""

    async def post(self) -> None:
        async with self.db() as session:
            await self.account(session)
            key = await tool_keys.rotate(session)
            await session.commit()
            self.write_json({"kid": key.kid, "jwks": await self._jwks()})

    async def _jwks(self) -> dict[str, Any]:
        async with self.db(read_only=True) as session:
            return await tool_keys.published_jwks(session)


class PassbackAPI(LtiHandler):
    """``GET|POST /api/lti/courses/<slug>/passback``: the course's passback log (newest first),
    and *Send grades now* (queues the sync at once) for its staff."""

    async def course_for_staff(self, session: Any, slug: str) -> Course:
        account = await self.account(session)
        course = await enrollment.course_by_slug(session, slug)
        # Its graders too: an LMS's instructors and TAs come in as the course's graders.
        if course is None or not (await membership(session, account, course)).grades:
            raise LtiError("There is no course of yours at this address.", 404)
        return course

    async def passback_log(self, session: Any, course: Course) -> list[dict[str, Any]]:
        rows = (
            await session.execute(
                select(
                    LtiScorePost,
                    Account.username,
                    func.coalesce(Assignment.title, Quiz.title + " (quiz)"),
                )
                .join(LtiLineItem, LtiLineItem.id == LtiScorePost.line_item_id)
                .join(LtiContext, LtiContext.id == LtiLineItem.lti_context_id)
                .join(Account, Account.id == LtiScorePost.account_id)
                .outerjoin(Assignment, Assignment.id == LtiLineItem.assignment_id)
                .outerjoin(Quiz, Quiz.id == LtiLineItem.quiz_id)
                .where(LtiContext.course_id == course.id)
                .order_by(LtiScorePost.id.desc())
                .limit(500)
            )
        ).all()
        return [_post_json(*row) for row in rows]

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            course = await self.course_for_staff(session, slug)
            posts = await self.passback_log(session, course)
        self.write_json({"posts": posts})

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            course = await self.course_for_staff(session, slug)
            await defer(session, scores.SYNC_TASK, scores.PASSBACK_QUEUE, passback_course=course.id)
            await session.commit()
        self.write_json({"queued": True}, 202)


class PassbackPage(PassbackAPI):
    """``/lti/courses/<slug>/passback``: the passback log for staff, *Send grades now* and a
    *Resend* per score."""

    async def get(self, slug: str, notice: str = "") -> None:
        async with self.db(read_only=True) as session:
            course = await self.course_for_staff(session, slug)
            posts = await self.passback_log(session, course)
        self.render_page("lti_passback.html", course=course, posts=posts, notice=notice)

    async def post(self, slug: str) -> None:
        resend = self.get_body_argument("resend", "")
        async with self.db() as session:
            course = await self.course_for_staff(session, slug)
            if resend.isdigit() and len(resend) < 10:
                post = await _post_of_course(session, int(resend), course)
                post.state = "queued"
                await defer(session, scores.POST_TASK, scores.PASSBACK_QUEUE, score_post=post.id)
                notice = "The score is being sent again."
            else:
                await defer(
                    session, scores.SYNC_TASK, scores.PASSBACK_QUEUE, passback_course=course.id
                )
                notice = "Changed grades are being sent to the LMS."
            await session.commit()
        await self.get(slug, notice)


async def _post_of_course(session: Any, post_id: int, course: Course) -> LtiScorePost:
    post = await session.scalar(
        select(LtiScorePost)
        .join(LtiLineItem, LtiLineItem.id == LtiScorePost.line_item_id)
        .join(LtiContext, LtiContext.id == LtiLineItem.lti_context_id)
        .where(LtiScorePost.id == post_id, LtiContext.course_id == course.id)
    )
    if post is None:
        raise LtiError("There is no such score in this course's passback log.", 404)
    return post


class ResendAPI(LtiHandler):
    """``POST /api/lti/score-posts/<id>/resend``: send one logged score again (its staff)."""

    async def post(self, post_id: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            found = (
                await session.execute(
                    select(LtiScorePost, Course)
                    .join(LtiLineItem, LtiLineItem.id == LtiScorePost.line_item_id)
                    .join(LtiContext, LtiContext.id == LtiLineItem.lti_context_id)
                    .join(Course, Course.id == LtiContext.course_id)
                    .where(LtiScorePost.id == int(post_id))
                )
            ).first()
            if found is None or not (await membership(session, account, found[1])).grades:
                raise LtiError("There is no such score in your courses' passback logs.", 404)
            post = found[0]
            post.state = "queued"
            await defer(session, scores.POST_TASK, scores.PASSBACK_QUEUE, score_post=post.id)
            await session.commit()
        self.write_json({"queued": True}, 202)


class DeepLinkPage(LtiHandler):
    """``/lti/deep-link/<token>``: the picker of a deep-linking request (for the person it
    signed in, while they are staff of the course); its answer is the signed
    LtiDeepLinkingResponse, posted by the browser to the platform's return URL."""

    async def picker(
        self, session: Any, token: str, *, use: bool = False
    ) -> tuple[deep_linking.PickerRequest, Course]:
        account = await self.account(session)
        request = deep_linking.find(self.application.settings["lti_redis"], token, use=use)
        course = await session.get(Course, request.course_id)
        if (
            request.account_id != account.id
            or course is None
            or not (await membership(session, account, course)).grades
        ):
            raise LtiError("This content selection was started by someone else.", 404)
        return request, course

    def multiple(self, request: deep_linking.PickerRequest) -> bool:
        return str(request.settings.get("accept_multiple", True)).lower() != "false"

    async def get(self, token: str, problem: str = "") -> None:
        async with self.db(read_only=True) as session:
            request, course = await self.picker(session, token)
            found = await deep_linking.choices(session, course)
        self.render_page(
            "lti_deep_link.html",
            course=course,
            choices=found,
            multiple=self.multiple(request),
            problem=problem,
        )

    async def post(self, token: str) -> None:
        wanted = self.get_body_arguments("item")
        async with self.db() as session:
            request, course = await self.picker(session, token)
            by_value = {c.value: c for c in await deep_linking.choices(session, course)}
            chosen = [by_value[v] for v in dict.fromkeys(wanted) if v in by_value]
            if not chosen or (len(chosen) > 1 and not self.multiple(request)):
                self.set_status(400)
                await self.get(
                    token,
                    "Choose one item."
                    if not self.multiple(request)
                    else "Choose at least one item.",
                )
                return
            platform = await session.get(LtiPlatform, request.platform_id)
            if platform is None:
                raise LtiError("This LMS is no longer registered with CourseHub.", 404)
            key = await tool_keys.signing_key(session)
            await session.commit()
            deep_linking.find(self.application.settings["lti_redis"], token, use=True)
        links = deep_linking.resources(chosen, course, self.tool_urls()["launch_url"])
        signed = deep_linking.response_jwt(
            PlatformSnapshot.of(platform), key.private_key_pem, request, links
        )
        self.render_page(
            "lti_deep_link_return.html",
            return_url=request.settings["deep_link_return_url"],
            jwt=signed,
            count=len(chosen),
        )


def _post_json(post: LtiScorePost, username: str, title: str) -> dict[str, Any]:
    return {
        "id": post.id,
        "username": username,
        "assignment": title,
        "score_given": post.score_given,
        "score_maximum": post.score_maximum,
        "state": post.state,
        "attempts": post.attempts,
        "last_error": post.last_error,
        "created_at": post.created_at,
        "sent_at": post.sent_at,
    }


def default_handlers(prefix: str) -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (rf"{prefix}/lti/login", LoginInitiation),
        (rf"{prefix}/lti/launch", LaunchHandler),
        (rf"{prefix}/lti/launch/storage", StorageLaunch),
        (rf"{prefix}/lti/continue", ContinueInNewWindow),
        (rf"{prefix}/lti/jwks", JwksHandler),
        (rf"{prefix}/lti/cookie-check", CookieCheck),
        (rf"{prefix}/lti/platforms", PlatformsPage),
        (rf"{prefix}/api/lti/platforms", PlatformsAPI),
        (rf"{prefix}/api/lti/platforms/(\d+)", PlatformAPI),
        (rf"{prefix}/api/lti/keys/rotate", KeyRotationAPI),
        (rf"{prefix}/api/lti/courses/([a-z0-9][a-z0-9-]{{0,119}})/passback", PassbackAPI),
        (rf"{prefix}/api/lti/score-posts/(\d+)/resend", ResendAPI),
        (rf"{prefix}/lti/courses/([a-z0-9][a-z0-9-]{{0,119}})/passback", PassbackPage),
        (rf"{prefix}/lti/deep-link/([A-Za-z0-9_-]{{10,64}})", DeepLinkPage),
    ]
