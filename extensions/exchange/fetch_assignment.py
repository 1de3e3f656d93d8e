"""Fetching: the student version of a released assignment into
``<course slug>/<assignment>/<title>.ipynb``. A folder that is already there is the
student's work and is never overwritten."""

from __future__ import annotations

from nbgrader.exchange.abc import ExchangeFetchAssignment

from coursehub.extensions.exchange.base import CourseHubExchange, notebook_name


class CourseHubFetchAssignment(ExchangeFetchAssignment, CourseHubExchange):
    def copy_files(self) -> None:
        slug, assignment = self.the_assignment()
        folder = self.folder(slug, assignment)
        target = folder / notebook_name(assignment["title"])
        if target.exists():
            if self.replace_missing_files:
                self.log.info("%s is already there and is kept as it is.", target)
                return
            self.fail(
                f"You already fetched “{assignment['title']}” into {folder}; your work there is "
                "kept. Rename that folder first to fetch a fresh copy."
            )
        notebook = self.calls.request("GET", self.api_path(slug, assignment, "notebook"))
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".ipynb.part")
        partial.write_bytes(notebook)
        partial.replace(target)
        self.log.info("Fetched “%s” into %s", assignment["title"], target)
