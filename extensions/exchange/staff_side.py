"""Releasing and collecting happen on CourseHub's pages (and its API), where due dates,
attempts and extensions are set; these commands say so instead of pretending."""

from __future__ import annotations

from nbgrader.exchange.abc import (
    ExchangeCollect,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
)

from coursehub.extensions.exchange.base import CourseHubExchange

ON_COURSEHUB = (
    "With CourseHub, {what} on the course's Assignments page (or its API), where due dates, "
    "attempts and extensions are set."
)


class CourseHubReleaseAssignment(ExchangeReleaseAssignment, CourseHubExchange):
    def copy_files(self) -> None:
        self.fail(ON_COURSEHUB.format(what="upload the source notebook and release it"))


class CourseHubCollect(ExchangeCollect, CourseHubExchange):
    def copy_files(self) -> None:
        self.fail(ON_COURSEHUB.format(what="submissions are graded as they arrive and listed"))


class CourseHubReleaseFeedback(ExchangeReleaseFeedback, CourseHubExchange):
    def copy_files(self) -> None:
        self.fail(ON_COURSEHUB.format(what="students see their feedback once graded"))
