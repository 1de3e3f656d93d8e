"""``python -m benchmarks.certificates``: issuing a course's certificates, PDF and credential.

Scenario ``certificates``: a course with a certificate rule (signatory, default template) and
``--count`` students (500) who have completed it, in a fresh database. Measured in one run,
alternating which goes first in each round:

- ``weasyprint``: the baseline, a plain ``weasyprint.HTML(string=...).write_pdf()`` of a
  one-page certificate with the same words (no template engine, QR code, PDF/A or database);
- ``issue``: CourseHub's path for each student: ``issuing.check`` in its own transaction
  (the rule checked, the certificate row, the PDF job deferred, the notification), then the
  job's work, ``issuing.make_documents`` (the template, the QR code, WeasyPrint's PDF/A-3b,
  the signed Open Badges credential), committed.

Reported: seconds per certificate for each, their ratio, and the goal from issue 15 (at most
0.2 s per certificate on this 2-core machine). Results go to
``benchmarks/results/certificates-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import weasyprint
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from benchmarks.report import RESULTS_DIR
from coursehub.hub.constants import Role
from coursehub.services.certificates import issuing
from coursehub.services.certificates.credentials import load_keys
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account, Course, CourseStatus, Enrollment, utcnow
from coursehub.services.models.certificates import CertificateRule
from coursehub.services.settings import sqlalchemy_url
from tests.platform import create_database, drop_database

GOAL_SECONDS = 0.2
PUBLIC = "https://coursehub.example"


def arrange(url: str, count: int) -> tuple[int, list[int]]:
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        teacher = Account(username="bench-teacher", name="Ada Lovelace", role=Role.INSTRUCTOR)
        session.add(teacher)
        session.flush()
        course = Course(
            slug="bench-certificates",
            title="Data Analysis with Python",
            instructor_id=teacher.id,
            status=CourseStatus.PUBLISHED,
        )
        session.add(course)
        session.flush()
        session.add(
            CertificateRule(
                course_id=course.id,
                title="Certificate of Completion",
                signatory_name="Ada Lovelace",
                signatory_title="Course instructor",
            )
        )
        students = [
            Account(username=f"bench-{n}-{secrets.token_hex(3)}", name=f"Zoë Ångström {n}")
            for n in range(count)
        ]
        session.add_all(students)
        session.flush()
        done = utcnow()
        session.add_all(
            Enrollment(account_id=s.id, course_id=course.id, progress=1.0, completed_at=done)
            for s in students
        )
        session.commit()
        ids = course.id, [s.id for s in students]
    engine.dispose()
    return ids


def baseline(names: list[str]) -> float:
    started = time.perf_counter()
    for name in names:
        weasyprint.HTML(
            string=f"<h1>Certificate of Completion</h1><p>{name}</p>"
            "<p>Data Analysis with Python</p><p>Issued on 7 December 2026</p>"
        ).write_pdf()
    return (time.perf_counter() - started) / len(names)


async def issue_all(url: str, course_id: int, students: list[int], data_dir: Path) -> float:
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    sessions = make_sessionmaker(engine)
    keys = load_keys(data_dir)
    started = time.perf_counter()
    try:
        for account_id in students:
            async with sessions() as session:
                certificate = await issuing.check(session, account_id, course_id)
                await session.commit()
            assert certificate is not None, "the rule should issue it"
            async with sessions() as session:
                made = await issuing.make_documents(session, certificate.id, keys, PUBLIC)
                assert made is not None and made.pdf and made.credential
                await session.commit()
    finally:
        await engine.dispose()
    return (time.perf_counter() - started) / len(students)


def reset(url: str) -> None:
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM certificates"))
        connection.execute(text("DELETE FROM notifications"))
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    url = create_database("coursehub_bench")
    try:
        upgrade(sqlalchemy_url(url))
        course_id, students = arrange(url, args.count)
        names = [f"Zoë Ångström {n}" for n in range(args.count)]
        times: dict[str, list[float]] = {"weasyprint": [], "issue": []}
        with tempfile.TemporaryDirectory(prefix="coursehub-bench-keys-") as data_dir:
            for round_number in range(args.rounds):
                order = (
                    ["weasyprint", "issue"] if round_number % 2 == 0 else ["issue", "weasyprint"]
                )
                for name in order:
                    if name == "weasyprint":
                        seconds = baseline(names)
                    else:
                        reset(url)
                        seconds = asyncio.run(issue_all(url, course_id, students, Path(data_dir)))
                    times[name].append(seconds)
                    print(f"round {round_number + 1} {name}: {seconds:.3f} s per certificate")
    finally:
        drop_database(url)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["issue"] / medians["weasyprint"]
    verdict = "meets" if medians["issue"] <= GOAL_SECONDS else "misses"
    print(
        f"{args.count} certificates: {medians['issue']:.3f} s each (PDF + credential) vs "
        f"{medians['weasyprint']:.3f} s for a plain WeasyPrint page, x{ratio:.2f}; "
        f"{verdict} the goal of {GOAL_SECONDS} s each"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"certificates-{stamp}.json").write_text(
        json.dumps({"count": args.count, "times": times, "medians": medians, "ratio": ratio})
    )


if __name__ == "__main__":
    main()
