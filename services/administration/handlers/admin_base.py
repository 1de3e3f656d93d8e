"""What every admin page shares: administrators only, a page that shows a refusal beside
the form it answers, and reading ids and dates from addresses."""

from __future__ import annotations

from typing import Any

from coursehub.hub.constants import Role
from coursehub.services.errors import Refusal
from coursehub.services.web.base import BaseHandler


class AdminHandler(BaseHandler):
    min_role = Role.ADMIN

    def render_refusal(self, template: str, error: Refusal, **context: Any) -> None:
        """The form's page again, saying what was refused (with the refusal's status)."""
        self.set_status(error.status)
        self.render_page(template, problem=error.message, problem_field=error.field, **context)

    def csv_download(self, name: str, body: str) -> None:
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(body)
