"""The site's logo: served to everyone, uploaded and removed by administrators.

- ``/site/logo`` (GET, HEAD; anyone): the uploaded PNG or JPEG, or CourseHub's own mark.
  With ``?v=<the logo's version>`` (as the service's pages link it) it may be kept a year;
  without (as the hub's pages link it) browsers ask again each time, and hear "not
  modified" while it is the same (ETag).
- ``/admin/settings/logo`` (POST, multipart field ``logo``): upload, then back to the
  settings page; a refused file shows the page again with the reason, nothing changed.
- ``/admin/settings/logo/remove`` (POST): back to CourseHub's own mark.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from coursehub.services.administration.handlers.admin_pages import SettingsPage
from coursehub.services.errors import Refusal
from coursehub.services.site_settings import site_logo, site_settings
from coursehub.services.site_settings.definitions import DEFINITIONS
from coursehub.services.web.base import BaseHandler

A_YEAR = 365 * 24 * 3600


class SiteLogo(BaseHandler):
    public = True

    async def get(self) -> None:
        await self._serve(include_body=True)

    async def head(self) -> None:
        await self._serve(include_body=False)

    async def _serve(self, include_body: bool) -> None:
        async with self.db(read_only=True) as session:
            image = await site_logo.current(session)
        if image is None:
            version, content_type, data = (
                site_logo.DEFAULT_VERSION,
                site_logo.DEFAULT_CONTENT_TYPE,
                site_logo.DEFAULT_LOGO,
            )
        else:
            version, content_type, data = image.sha256[:16], image.content_type, image.data
        etag = f'"{version}"'
        self.set_header("ETag", etag)
        if self.get_argument("v", "") == version:
            self.set_header("Cache-Control", f"public, max-age={A_YEAR}, immutable")
        else:
            self.set_header("Cache-Control", "public, no-cache")
        # An image, never a page: no script runs even if the file were opened on its own.
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        if etag in self.request.headers.get("If-None-Match", ""):
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Length", str(len(data)))
        self.finish(data if include_body else None)


class LogoForm(SettingsPage):
    """Both forms answer on the settings page: a 303 to it, or it again with the refusal."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def refused(self, error: Refusal, current: site_settings.SiteSettings) -> None:
        self.set_status(error.status)
        self.show(
            {d.key: current.value(d.key) for d in DEFINITIONS},
            saved=[],
            problem=error.message,
            problem_field=error.field,
        )

    async def done(self) -> None:
        try:
            await site_settings.bump_version(self.application.settings["redis"])
        except RedisError:
            pass  # bumped before the commit too; processes reload when it answers again
        self.redirect(f"{self.settings_obj.service_prefix}/admin/settings?saved=logo", status=303)


class LogoUpload(LogoForm):
    async def post(self) -> None:
        files = self.request.files.get("logo") or []
        data = files[0].body if files else b""
        redis = self.application.settings["redis"]
        async with self.db() as session:
            actor = await self.account(session)
            try:
                await site_logo.upload(session, redis, actor, data)
            except Refusal as error:
                await session.rollback()  # nothing changed; the page shows the settings as they are
                current = await site_settings.load(session)
                refusal = error
            else:
                await session.commit()
                refusal = None
        if refusal is not None:
            self.refused(refusal, current)
            return
        await self.done()


class LogoRemoval(LogoForm):
    async def post(self) -> None:
        redis = self.application.settings["redis"]
        async with self.db() as session:
            actor = await self.account(session)
            try:
                await site_logo.remove(session, redis, actor)
            except Refusal as error:
                await session.rollback()  # nothing changed; the page shows the settings as they are
                current = await site_settings.load(session)
                refusal = error
            else:
                await session.commit()
                refusal = None
        if refusal is not None:
            self.refused(refusal, current)
            return
        await self.done()


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/site/logo", SiteLogo),
        (f"{prefix}/admin/settings/logo", LogoUpload),
        (f"{prefix}/admin/settings/logo/remove", LogoRemoval),
    ]
