"""Every operation of the OpenAPI document, fuzzed against a real CourseHub by schemathesis,
as an administrator and as a student with their hub API tokens: no request may make the
service fail (5xx), and every answer must be one the document promises (a documented status
code, a body that matches its schema).

The run has a CourseHub of its own (its own database and Redis DB): an administrator's
fuzzed requests change settings, delete things and create accounts, which must not leak into
the other tests' shared platform."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account
from coursehub.services.settings import sqlalchemy_url
from tests.platform import (
    Platform,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
    sign_in,
)
from tests.teaching_client import hub_token

DOCUMENT = Path(__file__).resolve().parents[1] / "services" / "web" / "openapi.yaml"
ADMIN_EMAIL = "fuzz-admin@coursehub.example"
ADMIN_PASSWORD = "fuzzing admin passphrase"
STUDENT_PASSWORD = "fuzzing student passphrase"
# Examples per operation and person: bounded so the whole document runs in a few minutes.
MAX_EXAMPLES = 2
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    database_url = create_database("coursehub_fuzz")
    redis_url = claim_redis_db()
    upgrade(sqlalchemy_url(database_url))
    data_dir = tmp_path_factory.mktemp("coursehub-fuzz")
    env = platform_env(
        data_dir,
        database_url,
        redis_url,
        COURSEHUB_ADMIN_EMAIL=ADMIN_EMAIL,
        COURSEHUB_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    running = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        release_redis_db(redis_url)
        drop_database(database_url)


def token_of(platform: Platform, login: str, password: str) -> str:
    """Sign in once through the hub's form (the hub learns the person), then make a token."""
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        response = sign_in(http, platform.url, login, password)
        assert response.status_code == 200, response.text[:500]
        username = http.get(f"{platform.url}/hub/api/user").json()["name"]
    return hub_token(platform, username)


@pytest.fixture(scope="module")
def tokens(fuzz_platform: Platform) -> dict[str, str]:
    stem = f"fuzz-student-{secrets.token_hex(3)}"
    engine = create_engine(sqlalchemy_url(fuzz_platform.database_url))
    with engine.begin() as connection:
        connection.execute(
            Account.__table__.insert().values(
                username=stem,
                email=f"{stem}@coursehub.example",
                name="Fuzz Student",
                password_hash=hash_password(STUDENT_PASSWORD),
                role=Role.STUDENT,
            )
        )
    engine.dispose()
    return {
        "administrator": token_of(fuzz_platform, ADMIN_EMAIL, ADMIN_PASSWORD),
        "student": token_of(fuzz_platform, f"{stem}@coursehub.example", STUDENT_PASSWORD),
    }


# A certificate to verify is a PDF's bytes, sent as they are.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")
schema = schemathesis.openapi.from_path(DOCUMENT)
schema.config.update(request_timeout=30)
# Valid requests (by the document) of a signed-in person: refusals of malformed input are
# the clean-error tests' business; here every answer must be one the document lists.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE],
    max_examples=MAX_EXAMPLES,
    no_shrink=True,
    with_security_parameters=False,
)
schema.config.phases.update(phases=["examples", "fuzzing"])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_or_answers_outside_the_document(
    case: schemathesis.Case, fuzz_platform: Platform, tokens: dict[str, str]
) -> None:
    """Each generated request is sent once as the administrator and once as a student."""
    for token in tokens.values():
        case.call_and_validate(
            base_url=fuzz_platform.service_url,
            headers={"Authorization": f"token {token}"},
            checks=CHECKS,
        )
