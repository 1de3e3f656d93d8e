"""Submitting: the fetched notebook goes to the course service, which keeps it with its
SHA-256 and the time it arrived, and queues it for grading. The same notebook sent twice (a
double click, a retried request) is one attempt."""

from __future__ import annotations

import hashlib

from nbgrader.exchange.abc import ExchangeSubmit

from coursehub.extensions.exchange.base import CourseHubExchange, notebook_name


class CourseHubSubmit(ExchangeSubmit, CourseHubExchange):
    def copy_files(self) -> None:
        slug, assignment = self.the_assignment()
        folder = self.folder(slug, assignment)
        expected = folder / notebook_name(assignment["title"])
        found = [expected] if expected.is_file() else sorted(folder.glob("*.ipynb"))
        if not found:
            self.fail(
                f"There is no notebook to submit in {folder}. Fetch “{assignment['title']}” "
                "first, work in its notebook, then submit."
            )
        if len(found) > 1:
            self.fail(
                f"{folder} holds several notebooks; CourseHub grades {expected.name}. Rename "
                "the one to submit to that name."
            )
        body = found[0].read_bytes()
        key = f"{assignment['id']}-{hashlib.sha256(body).hexdigest()}"
        answer = self.calls.json(
            "POST",
            self.api_path(slug, assignment, "submissions"),
            body,
            **{"Content-Type": "application/x-ipynb+json", "Idempotency-Key": key},
        )
        self.log.info(
            "Submitted “%s” (attempt %s, received %s); it is being graded.",
            assignment["title"],
            answer.get("attempt"),
            answer.get("received_at"),
        )
