"""Names CourseHub's parts agree on: roles, hub groups, scopes, the service's name and port.

The hub owns these; the service, the extensions and the tests import them from here so that a
renamed scope or group cannot drift between the hub's wiring and the code that checks it.
"""

from enum import StrEnum

SERVICE_NAME = "coursehub"
SERVICE_PREFIX = f"/services/{SERVICE_NAME}"
SERVICE_PORT = 10101
# The lesson server (standalone Voilà for notebook lessons), reached only by the course service.
LESSON_SERVICE_NAME = f"{SERVICE_NAME}-lessons"
LESSON_SERVER_PORT = 10102

# Hub group holding every INSTRUCTOR; per-course staff groups are added by later capabilities.
INSTRUCTORS_GROUP = "instructors"

# Custom scopes, one per HTTP method family, as in jupyterhub's examples/custom-scopes.
SCOPE_READ = f"custom:{SERVICE_NAME}:read"
SCOPE_WRITE = f"custom:{SERVICE_NAME}:write"
ACCESS_SERVICE_SCOPE = f"access:services!service={SERVICE_NAME}"


class Role(StrEnum):
    """A CourseHub account's platform role; the course database is its source of truth."""

    STUDENT = "STUDENT"
    INSTRUCTOR = "INSTRUCTOR"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANK = {Role.STUDENT: 0, Role.INSTRUCTOR: 1, Role.ADMIN: 2}


def hub_groups_for(role: Role) -> list[str]:
    """The hub groups an account of ``role`` belongs to."""
    return [INSTRUCTORS_GROUP] if role.at_least(Role.INSTRUCTOR) else []
