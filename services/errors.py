"""The one error a person sees: ``Refusal``.

Code anywhere in the service raises a ``Refusal`` (or a domain's subclass of it, such as
``QuizError``, for callers that catch one domain's refusals) when it will not do what was
asked: a sentence that says what to do next, the HTTP status, and the form field it is
about, if any. The base handler turns an uncaught one into the answer once: JSON for the API
(``{"error": ..., "status": ...}``, with ``field`` when there is one), the error page
otherwise (``coursehub.services.web.base.BaseHandler``).
"""

from __future__ import annotations


class Refusal(ValueError):
    """Something CourseHub will not do, as the person should hear it."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
