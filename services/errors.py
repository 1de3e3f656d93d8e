"""The one error a person sees: ``Refusal``.

Code anywhere in the service raises a ``Refusal`` (or a domain's subclass of it, such as
``QuizError``, for callers that catch one domain's refusals) when it will not do what was
asked: a sentence that says what to do next, the HTTP status, and the form field it is
about, if any. The base handler turns an uncaught one into the answer once: JSON for the API
(``{"error": ..., "status": ...}``, with ``field`` when there is one), the error page
otherwise (``coursehub.services.web.base.BaseHandler``). ``StorageFull`` is the one refusal
of the machine rather than the person: the disk is full, and the administrator must act.
"""

from __future__ import annotations

import errno


class Refusal(ValueError):
    """Something CourseHub will not do, as the person should hear it."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


STORAGE_FULL = "CourseHub's storage is full; your file was not saved — tell your administrator."


class StorageFull(Refusal):
    """The disk CourseHub writes to is full (``ENOSPC``): nothing was kept."""

    def __init__(self) -> None:
        super().__init__(STORAGE_FULL, status=507)


def storage_full(error: BaseException | None) -> bool:
    """Whether ``error`` is the operating system saying the disk is full."""
    return isinstance(error, OSError) and error.errno == errno.ENOSPC
