"""HTTP handlers of the web layer itself (status); and the map of the service's routes.

Every domain keeps its handlers in its own ``handlers`` package
(``coursehub.services.<domain>.handlers``); every module there that defines
``default_handlers(prefix)`` is mounted by the service (``lms.handler_modules``). Pages live
under the service prefix ``/services/coursehub``; JSON endpoints under ``/services/coursehub/api/``.

Where things are (pages; the JSON API mirrors them under /api/):
- ``/courses`` and ``/courses/<slug>``: the public catalog and a course's page (syllabus,
  preview lessons, enroll)
- ``/dashboard``: a student's courses, "continue where you left off", recent completions
- ``/learn/<slug>/<lesson id>``: the course player
- ``/notes``: my notes and bookmarks
- ``/courses/<slug>/assignments``: a course's notebook assignments, submitting, attempts and
  grades (JSON: ``/api/courses/<slug>/assignments/...``; JupyterLab's nbgrader Assignment
  List reaches the same API through ``coursehub.extensions.exchange``)
- ``/api/courses/<slug>/gradebook`` (and ``gradebook.csv?format=plain|canvas``): grades
- ``/teach`` and ``/teach/courses/<id>``: instructors' dashboard and course management
- ``/admin/users``, ``/admin/categories``: administrators
- ``/register``, ``/forgot-password``, ``/reset/<token>``: accounts
- ``/health``, ``/metrics``, ``/api/openapi.json``: operations
"""
