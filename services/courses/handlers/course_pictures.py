"""``/courses/<slug>/picture.svg``: the picture of a course whose instructor uploaded none
(``coursehub.services.courses.course_pictures``), for whoever may see the course."""

from __future__ import annotations

from tornado import web

from coursehub.services.courses import course_pictures, enrollment
from coursehub.services.models import CourseStatus
from coursehub.services.web.base import BaseHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,119})"
# Cards load many of these: browsers keep them a day and revalidate by ETag after that.
CACHE_CONTROL = "public, max-age=86400"


class CoursePicture(BaseHandler):
    # Anyone who may see the course (published ones: everyone); an <img> never signs in.
    public = True

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            viewer = await self.account(session) if self.current_user else None
            course = enrollment.check_visible(
                viewer, await enrollment.course_by_slug(session, slug)
            )
            key = course.category.slug if course.category else course.slug
            svg = course_pictures.made_picture(course.title, key)
        self.set_header("Content-Type", "image/svg+xml; charset=UTF-8")
        published = course.status is CourseStatus.PUBLISHED
        self.set_header("Cache-Control", CACHE_CONTROL if published else "private, no-cache")
        self.finish(svg)

    def compute_etag(self) -> str | None:
        # The picture changes with the title only: an ETag saves sending it again.
        return web.RequestHandler.compute_etag(self)


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [(f"{prefix}/courses/{SLUG}/picture\\.svg", CoursePicture)]
