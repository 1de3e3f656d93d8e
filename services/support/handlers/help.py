"""``/help`` (every help page by audience, and search with ``?q=``) and ``/help/<page>``.
Open to everyone, signed in or not: help is also for people who cannot sign in."""

from __future__ import annotations

from tornado import web

from coursehub.services.support import help_pages
from coursehub.services.web.base import BaseHandler


class HelpIndex(BaseHandler):
    public = True

    def get(self) -> None:
        query = self.get_argument("q", "").strip()[:200]
        self.render_page(
            "help.html",
            query=query,
            hits=help_pages.search(query) if query else None,
            pages=help_pages.pages(),
            audiences=help_pages.AUDIENCES,
        )


class HelpPageHandler(BaseHandler):
    public = True

    def get(self, slug: str) -> None:
        found = help_pages.page(slug)
        if found is None:
            raise web.HTTPError(404, "There is no such help page. Search the help instead.")
        self.render_page(
            "help_page.html", page=found, audiences=help_pages.AUDIENCES, pages=help_pages.pages()
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/help", HelpIndex),
        (f"{prefix}/help/([a-z0-9-]{{1,80}})", HelpPageHandler),
    ]
