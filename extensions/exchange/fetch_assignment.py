"""Fetching: the student version of a released assignment into
``<course slug>/<assignment>/<title>.ipynb``, with the assignment's data files beside it
(``data.txt``, ``data/weather.csv``) so the notebook opens them as it will when graded. A
folder that is already there is the student's work and is never overwritten."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

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
                self.fetch_data_files(slug, assignment, folder)
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
        self.fetch_data_files(slug, assignment, folder)
        self.log.info("Fetched “%s” into %s", assignment["title"], target)

    def fetch_data_files(self, slug: str, assignment: dict[str, Any], folder: Path) -> None:
        """The data files beside the notebook; a file already there is kept."""
        listing = self.calls.json("GET", self.api_path(slug, assignment, "files"))
        root = folder.resolve()
        for entry in listing.get("files", []):
            relative = PurePosixPath(entry["path"])
            target = (folder / relative).resolve()
            if relative.is_absolute() or ".." in relative.parts or root not in target.parents:
                self.log.warning("Skipped the data file %r: not inside %s", entry["path"], folder)
                continue
            if target.exists():
                continue
            quoted = "/".join(self.calls.quote(part) for part in relative.parts)
            content = self.calls.request("GET", self.api_path(slug, assignment, f"files/{quoted}"))
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(content)
            partial.replace(target)
