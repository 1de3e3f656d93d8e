"""nbgrader's exchange over HTTP: nbgrader's own Assignment List (and ``nbgrader list``,
``fetch_assignment``, ``submit``, ``fetch_feedback``) talk to the course service instead of a
shared exchange folder. Every call carries the notebook server's hub token, so the service
applies the student's enrollments and role; several courses work side by side, each under
``<course slug>/<assignment>/`` in the student's home.

Enabled for every CourseHub notebook server by ``etc/jupyter/nbgrader_config.json``
(``ExchangeFactory`` names these classes). Releasing and collecting are done on CourseHub's
own pages, so those two commands say so instead.
"""

from coursehub.extensions.exchange.fetch_assignment import CourseHubFetchAssignment
from coursehub.extensions.exchange.fetch_feedback import CourseHubFetchFeedback
from coursehub.extensions.exchange.listing import CourseHubList
from coursehub.extensions.exchange.staff_side import (
    CourseHubCollect,
    CourseHubReleaseAssignment,
    CourseHubReleaseFeedback,
)
from coursehub.extensions.exchange.submit import CourseHubSubmit

__all__ = [
    "CourseHubCollect",
    "CourseHubFetchAssignment",
    "CourseHubFetchFeedback",
    "CourseHubList",
    "CourseHubReleaseAssignment",
    "CourseHubReleaseFeedback",
    "CourseHubSubmit",
]
