"""Fetching feedback: each graded attempt's feedback notebook, as HTML in
``<assignment>/feedback/<submission time>/``, where the Assignment List links to it. The
service's feedback never holds hidden tests or their output."""

from __future__ import annotations

import html
import json
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbgrader.exchange.abc import ExchangeFetchFeedback

from coursehub.extensions.exchange.base import CourseHubExchange, notebook_name


class CourseHubFetchFeedback(ExchangeFetchFeedback, CourseHubExchange):
    def copy_files(self) -> None:
        slug, assignment = self.the_assignment()
        attempts = self.calls.json("GET", self.api_path(slug, assignment, "submissions"))
        graded = [a for a in attempts["submissions"] if a["grade"]]
        if not graded:
            self.fail(f"“{assignment['title']}” has no graded attempt yet; look again later.")
        exporter = HTMLExporter()
        for attempt in graded:
            folder = self.folder(slug, assignment) / "feedback"
            folder = folder / self.nbgrader_time(attempt["received_at"])
            path = f"submissions/{int(attempt['id'])}/feedback"
            feedback = self.calls.request("GET", self.api_path(slug, assignment, path))
            notebook = nbformat.reads(json.dumps(json.loads(feedback)), as_version=4)
            notebook.cells.insert(0, grade_summary(attempt["grade"]))
            html, _ = exporter.from_notebook_node(notebook)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / notebook_name(assignment["title"]).replace(".ipynb", ".html")
            target.write_text(html, encoding="utf-8")
            self.log.info("Feedback for attempt %s: %s", attempt["attempt"], target)


def grade_summary(grade: dict[str, Any]) -> nbformat.NotebookNode:
    """A first cell with the attempt's grade and each graded cell's score and feedback."""

    def points(value: float | None) -> str:
        return "awaits a grader" if value is None else f"{value:g}"

    lines = [f"## Your grade: {points(grade['final_score'])} / {grade['max_score']:g}", ""]
    if grade.get("late_penalty_percent"):
        lines.append(f"Late penalty: {grade['late_penalty_percent']:g} %.")
    if grade.get("message"):
        lines.append(html.escape(grade["message"]))
    lines += ["", "| Part | Score | Feedback |", "|---|---|---|"]
    for cell in grade.get("cells", []):
        feedback = html.escape(str(cell.get("feedback") or "")).replace("\n", " ")
        score = f"{points(cell.get('score'))} / {cell.get('max_points', 0):g}"
        lines.append(f"| {html.escape(str(cell.get('grade_id')))} | {score} | {feedback} |")
    return nbformat.v4.new_markdown_cell("\n".join(lines))
