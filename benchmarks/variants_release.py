"""``python -m benchmarks.variants_release``: releasing a parameterised assignment to 500
students (injection only, no execution).

Scenario ``variants-release``, two assignments of one course of ``--count`` enrolled students,
made from the same source notebook (a papermill ``parameters`` cell, an answer cell and a
test cell), timed in the same run:

- ``plain`` (the baseline): the assignment without a variant rule: the release
  (``assignments.update_settings`` with ``release: true``) and every student's copy as the
  download and the JupyterLab fetch serve it (``variants.records.student_copy``: the released
  notebook unchanged);
- ``variants``: the same with a variant rule (three parameters from ranges and a list): the
  release records every student's variant in batches, and every student's copy is the
  released notebook with papermill's injected-parameters cell (``parameterize_notebook``).

Reported: seconds of each, the ratio, and whether the goal of issue 22 (500 students in at
most 30 s) is met. Results go to ``benchmarks/results/variants-release-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from benchmarks.report import RESULTS_DIR
from coursehub.hub.constants import Role
from coursehub.services.assessment import assignments
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account, Assignment, Course, CourseStatus, Enrollment
from coursehub.services.settings import sqlalchemy_url
from coursehub.services.variants import records
from tests.platform import create_database, drop_database
from tests.test_variants import RULE, variant_source

GOAL_SECONDS = 30


def arrange(url: str, count: int) -> tuple[int, list[int]]:
    engine = create_engine(sqlalchemy_url(url))
    source = json.loads(variant_source())
    with Session(engine) as session:
        teacher = Account(username="bench-teacher", name="Ada Lovelace", role=Role.INSTRUCTOR)
        session.add(teacher)
        session.flush()
        course = Course(
            slug="bench-variants",
            title="Numbers of your own",
            instructor_id=teacher.id,
            status=CourseStatus.PUBLISHED,
        )
        session.add(course)
        session.flush()
        students = [
            Account(username=f"bench-{n}-{secrets.token_hex(3)}", name=f"Student {n}")
            for n in range(count)
        ]
        session.add_all(students)
        session.flush()
        session.add_all(Enrollment(account_id=s.id, course_id=course.id) for s in students)
        made = [
            Assignment(
                course_id=course.id,
                title=title,
                source_notebook=source,
                student_notebook=source,
                source_sha256="0" * 64,
            )
            for title in ("plain", "variants")
        ]
        session.add_all(made)
        session.commit()
        ids = [a.id for a in made], [s.id for s in students]
    engine.dispose()
    return ids


async def release(url: str, assignment_id: int, students: list[int], rule: bool) -> float:
    """Seconds to release ``assignment_id`` and hand every student their copy."""
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            assignment = await session.get_one(Assignment, assignment_id)
            if rule:
                await records.set_rule(session, assignment, RULE)
            await session.commit()
        started = time.perf_counter()
        async with sessions() as session:
            assignment = await session.get_one(Assignment, assignment_id)
            await assignments.update_settings(session, assignment, {"release": True})
            await session.commit()
        async with sessions() as session:
            assignment = await session.get_one(Assignment, assignment_id)
            people = (await session.scalars(select(Account).where(Account.id.in_(students)))).all()
            for account in people:
                copy = await records.student_copy(session, assignment, account)
                assert copy["cells"], "a notebook"
            await session.commit()
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def reset(url: str, assignment_ids: list[int]) -> None:
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM assignment_variants"))
        connection.execute(text("DELETE FROM assignment_variant_rules"))
        connection.execute(text("DELETE FROM notifications"))
        connection.execute(
            text("UPDATE assignments SET released_at = NULL WHERE id = ANY(:ids)"),
            {"ids": assignment_ids},
        )
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    url = create_database("coursehub_bench")
    times: dict[str, list[float]] = {"plain": [], "variants": []}
    try:
        upgrade(sqlalchemy_url(url))
        (plain_id, variants_id), students = arrange(url, args.count)
        for round_number in range(args.rounds):
            order = ["plain", "variants"] if round_number % 2 == 0 else ["variants", "plain"]
            for name in order:
                reset(url, [plain_id, variants_id])
                which = plain_id if name == "plain" else variants_id
                seconds = asyncio.run(release(url, which, students, rule=name == "variants"))
                times[name].append(seconds)
                print(f"round {round_number + 1} {name}: {seconds:.3f} s")
    finally:
        drop_database(url)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["variants"] / medians["plain"]
    verdict = "meets" if medians["variants"] <= GOAL_SECONDS else "misses"
    print(
        f"Releasing to {args.count} students: {medians['variants']:.2f} s with variants "
        f"(recorded and injected) vs {medians['plain']:.2f} s without, x{ratio:.2f}; "
        f"{verdict} the goal of {GOAL_SECONDS} s"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"variants-release-{stamp}.json").write_text(
        json.dumps({"count": args.count, "times": times, "medians": medians, "ratio": ratio})
    )


if __name__ == "__main__":
    main()
