"""The admin index, the audit log (search, CSV) and site settings.

- ``/admin``: links to every admin page, the support queue, analytics and the hub's panel
- ``/admin/audit`` (``?q=&action=&actor=&kind=&target=&from=&to=&page=``) and
  ``/admin/audit.csv`` (the same filters): the one audit log
- ``/admin/settings``: site settings (POST saves, then redirects to the page; effective at
  once, audited)
- ``/api/internal/server-quotas``: for the hub only, the notebook-server quotas a server
  starting now gets (``coursehub.hub.spawner``)
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, time, timedelta

from redis.exceptions import RedisError
from tornado import web

from coursehub.services.administration import course_review
from coursehub.services.administration.handlers.admin_base import AdminHandler
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.site_settings import site_settings
from coursehub.services.site_settings.definitions import DEFINITIONS, REGISTRATION_CHOICES
from coursehub.services.web.base import BaseHandler


class AdminIndexPage(AdminHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            waiting = len(await course_review.waiting_courses(session))
        self.render_page("admin_index.html", waiting=waiting)


def _day(raw: str, *, end: bool = False) -> datetime | None:
    if not raw:
        return None
    try:
        day = datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time.min, UTC)
    except ValueError:
        raise Refusal("Give dates as YYYY-MM-DD.", 400, field="from") from None
    return day + timedelta(days=1) if end else day


class AuditHandler(AdminHandler):
    def query(self) -> audit_log.AuditQuery:
        arg = self.get_argument
        return audit_log.AuditQuery(
            text=arg("q", "").strip()[:200],
            action=arg("action", "").strip()[:60],
            target_kind=arg("kind", "").strip()[:40],
            target_id=arg("target", "").strip()[:100],
            actor=arg("actor", "").strip()[:200],
            since=_day(arg("from", "")),
            until=_day(arg("to", ""), end=True),
        )


class AuditPage(AuditHandler):
    async def get(self) -> None:
        query = self.query()
        try:
            page = max(1, min(int(self.get_argument("page", "1")), 100_000))
        except ValueError:
            page = 1
        async with self.db(read_only=True) as session:
            await self.account(session)
            entries, total = await audit_log.search(session, query, page=page)
        self.render_page(
            "admin_audit.html",
            entries=entries,
            total=total,
            page=page,
            pages=max(1, -(-total // audit_log.PAGE_SIZE)),
            args={
                k: self.get_argument(k, "")
                for k in ("q", "action", "actor", "kind", "target", "from", "to")
            },
        )


class AuditCSV(AuditHandler):
    async def get(self) -> None:
        query = self.query()
        async with self.db(read_only=True) as session:
            await self.account(session)
            body = await audit_log.export_csv(session, query)
        self.csv_download("coursehub-audit-log.csv", body)


class SettingsPage(AdminHandler):
    def show(self, values: dict[str, object], **context: object) -> None:
        self.render_page(
            "admin_settings.html",
            definitions=DEFINITIONS,
            values=values,
            registration_choices=REGISTRATION_CHOICES,
            **context,
        )

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            current = await site_settings.load(session)
        # After a save the page is shown by its own GET, naming what was saved.
        saved = self.get_argument("saved", "").split(",")
        self.show(
            {d.key: current.value(d.key) for d in DEFINITIONS},
            saved=[d.label for d in DEFINITIONS if d.key in saved]
            + (["Logo"] if "logo" in saved else []),
        )

    async def post(self) -> None:
        raw = {}
        for definition in DEFINITIONS:
            if definition.kind == "flag":
                raw[definition.key] = self.get_body_argument(definition.key, "") == "on"
            else:
                raw[definition.key] = self.get_body_argument(definition.key, "")
        redis = self.application.settings["redis"]
        async with self.db() as session:
            actor = await self.account(session)
            try:
                changed = await site_settings.change(session, redis, actor, raw)
            except Refusal as error:
                self.set_status(error.status)
                self.show(raw, saved=[], problem=error.message, problem_field=error.field)
                return
            await session.commit()
        try:
            await site_settings.bump_version(redis)
        except RedisError:
            pass  # bumped before the commit too; processes reload when it answers again
        # A page of its own (which reloads the settings, so shows the new name): reloading it
        # saves nothing again.
        self.redirect(f"{self.request.path}?saved={','.join(changed)}", status=303)


class ServerQuotasAPI(BaseHandler):
    """The hub's spawner asks at every server start: the site's notebook-server quotas
    (None: the hub's configured default)."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated server-to-server calls carry no browser cookies."""

    async def prepare(self) -> None:
        expected = f"token {self.settings_obj.hub_api_token}"
        given = self.request.headers.get("Authorization", "")
        if not self.settings_obj.hub_api_token or not hmac.compare_digest(given, expected):
            raise web.HTTPError(403, "Only the hub may call this endpoint.")

    async def post(self) -> None:
        await self.load_site_settings()
        self.write_json({"memory_mb": self.site.server_memory_mb, "cpus": self.site.server_cpus})


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (rf"{prefix}/admin/?", AdminIndexPage),
        (f"{prefix}/admin/audit", AuditPage),
        (rf"{prefix}/admin/audit\.csv", AuditCSV),
        (f"{prefix}/admin/settings", SettingsPage),
        (f"{prefix}/api/internal/server-quotas", ServerQuotasAPI),
    ]
