"""Moodle XML (Moodle's "Moodle XML format" question export): read into the bank's fields,
and written from them.

Read: multichoice (one or several answers), truefalse, shortanswer, numerical and essay, with
their images (``<file encoding="base64">`` shown as ``@@PLUGINFILE@@/name``), tags, general
feedback (the explanation) and the category (a tag). Other types (matching, cloze, drag and
drop, calculated, …) are listed as skipped with the reason.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, SubElement, tostring

from coursehub.services.quizzes.question_formats import common
from coursehub.services.quizzes.question_formats.html_markdown import (
    html_to_markdown,
    markdown_to_html,
)
from coursehub.services.quizzes.question_formats.incoming import Incoming, ReadFile
from coursehub.services.quizzes.question_formats.safe_files import read_xml
from coursehub.services.quizzes.quiz_errors import QuizError

FORMAT = "moodle_xml"
PLUGINFILE = "@@PLUGINFILE@@/"
UNSUPPORTED = {
    "matching": "matching questions have no CourseHub counterpart",
    "multianswer": "embedded answers (Cloze) have no CourseHub counterpart",
    "ddwtos": "drag and drop into text has no CourseHub counterpart",
    "ddimageortext": "drag and drop onto an image has no CourseHub counterpart",
    "ddmarker": "drag and drop markers have no CourseHub counterpart",
    "gapselect": "select missing words has no CourseHub counterpart",
    "randomsamatch": "random short-answer matching has no CourseHub counterpart",
    "ordering": "ordering questions have no CourseHub counterpart",
    "calculated": "Moodle's calculated questions use its own formulas; write it again as a "
    "CourseHub calculated question",
    "calculatedsimple": "Moodle's calculated questions use its own formulas; write it again as "
    "a CourseHub calculated question",
    "calculatedmulti": "Moodle's calculated questions use its own formulas",
    "description": "it is a description, not a question",
    "random": "it is a random pick from a Moodle category; use a CourseHub random draw",
}


def _text(element: Element | None, path: str = "text") -> str:
    if element is None:
        return ""
    found = element.find(path) if path else element
    return (found.text or "") if found is not None else ""


class _Question:
    """One ``<question>``: its files, and its texts as markdown."""

    def __init__(self, element: Element, number: int, read: ReadFile) -> None:
        self.element = element
        self.number = number
        self.read = read
        self.files: dict[str, str] = {}
        self.notes: list[str] = []
        for file in element.iter("file"):
            name = file.get("name") or ""
            try:
                body = base64.b64decode((file.text or "").strip(), validate=False)
            except (binascii.Error, ValueError):
                self.notes.append(f"The image {name!r} is not valid base64; it was left out.")
                continue
            path = ((file.get("path") or "/").strip("/") + "/" + name).lstrip("/")
            self.files[path] = read.add_image(body)

    @property
    def name(self) -> str:
        return _text(self.element.find("name")).strip()

    def image_key(self, src: str) -> str | None:
        if not src.startswith(PLUGINFILE):
            return None
        return self.files.get(unquote(src[len(PLUGINFILE) :]).split("?")[0].lstrip("/"))

    def markdown(self, element: Element | None) -> str:
        """A ``<questiontext>``-like element's text as markdown."""
        if element is None:
            return ""
        raw = _text(element)
        if element.get("format") == "markdown":
            return raw.strip()
        if element.get("format") in ("plain_text", "moodle_auto_format") and "<" not in raw:
            raw = raw.replace("&", "&amp;").replace("\n\n", "</p><p>")
        return html_to_markdown(raw, self.image_key)


def _answers(question: _Question) -> list[tuple[float, str, Element]]:
    return [
        (common.number(answer.get("fraction")) or 0.0, _text(answer), answer)
        for answer in question.element.findall("answer")
    ]


def _choice_fields(question: _Question) -> dict[str, Any]:
    single = _text(question.element, "single").strip().lower() in ("true", "1")
    choices = []
    for fraction, _, answer in _answers(question):
        text = question.markdown(answer)
        choices.append({"text": text, "correct": fraction > 0})
        if single and 0 < fraction < 100:
            question.notes.append(
                f"The choice {text!r} earned {fraction:g}% in Moodle; CourseHub counts only "
                "the fully right choice."
            )
    if not single and any(0 < f < 100 for f, _, _ in _answers(question)):
        question.notes.append(
            "Moodle's per-choice percentages become CourseHub's right-minus-wrong scoring."
        )
    if single:
        full = [f for f, _, _ in _answers(question) if f >= 100]
        for choice, (fraction, _, _) in zip(choices, _answers(question), strict=True):
            choice["correct"] = fraction >= 100 if full else choice["correct"]
    shuffle = _text(question.element, "shuffleanswers").strip().lower() in ("1", "true")
    return {
        "kind": "SINGLE_CHOICE" if single else "MULTIPLE_CHOICE",
        "choices": choices,
        "shuffle": shuffle,
    }


def _true_false(question: _Question) -> dict[str, Any]:
    for fraction, text, _ in _answers(question):
        if fraction >= 100 and text.strip().lower() in ("true", "false"):
            return {"kind": "TRUE_FALSE", "correct": text.strip().lower() == "true"}
    raise QuizError("it has no answer marked 100% true or false")


def _short_answer(question: _Question) -> dict[str, Any]:
    case = _text(question.element, "usecase").strip() == "1"
    answers = []
    for fraction, text, _ in _answers(question):
        if fraction >= 100 and text.strip():
            answers.append(common.short_answer(text, case_sensitive=case))
        elif fraction > 0:
            question.notes.append(
                f"The answer {text.strip()!r} earned {fraction:g}% in Moodle; CourseHub "
                "accepts only fully right answers, so it was left out."
            )
    if not answers:
        raise QuizError("it has no answer worth 100%")
    return {"kind": "FILL_IN", "answers": answers, "display": answers[0]["value"]}


def _numerical(question: _Question) -> dict[str, Any]:
    answers = []
    for fraction, text, answer in _answers(question):
        if fraction < 100:
            if fraction > 0:
                question.notes.append(
                    f"The answer {text.strip()!r} earned {fraction:g}% in Moodle; CourseHub "
                    "accepts only fully right answers, so it was left out."
                )
            continue
        value = common.number(text)
        if value is None:
            raise QuizError(f"its answer {text.strip()!r} is not a number")
        tol = common.number(_text(answer, "tolerance")) or 0.0
        answers.append({"mode": "numeric", "value": value, "abs_tol": abs(tol)})
    if not answers:
        raise QuizError("it has no answer worth 100%")
    return {"kind": "FILL_IN", "answers": answers, "display": f"{answers[0]['value']:g}"}


def _essay(question: _Question) -> dict[str, Any]:
    return {"kind": "ESSAY", "guidance": question.markdown(question.element.find("graderinfo"))}


READERS = {
    "multichoice": _choice_fields,
    "truefalse": _true_false,
    "shortanswer": _short_answer,
    "numerical": _numerical,
    "essay": _essay,
}


def read(data: bytes) -> ReadFile:
    root = read_xml(data, "Moodle XML file")
    if root.tag != "quiz":
        raise QuizError(
            f"This XML file is not a Moodle question export: its root is <{root.tag}>, not <quiz>."
        )
    read = ReadFile(FORMAT)
    tag: str | None = None
    number = 0
    for element in root.findall("question"):
        kind = (element.get("type") or "").strip()
        if kind == "category":
            tag = common.tag_from_category(_text(element.find("category")))
            continue
        number += 1
        question = _Question(element, number, read)
        source = f"question {number}" + (f" ({question.name!r})" if question.name else "")
        if kind in UNSUPPORTED or kind not in READERS:
            read.skip(source, UNSUPPORTED.get(kind, f"the question type {kind!r} is unknown"))
            continue
        try:
            fields = READERS[kind](question)
        except QuizError as error:
            read.skip(source, error.message)
            continue
        tags = [_text(t).strip() for t in element.findall("tags/tag")]
        fields |= {
            "title": question.name[:200],
            "prompt": question.markdown(element.find("questiontext")),
            "explanation": question.markdown(element.find("generalfeedback")),
            "points": common.points_of(_text(element, "defaultgrade")),
            "tags": [t for t in [*tags, tag] if t],
        }
        read.questions.append(Incoming(source, fields, question.notes))
    return read


# -- writing -------------------------------------------------------------------------------------


def _text_element(parent: Element, name: str, html: str, **attributes: str) -> Element:
    element = SubElement(parent, name, {"format": "html", **attributes} if html else attributes)
    SubElement(element, "text").text = html
    return element


class Writer:
    """Questions (``quiz_questions.question_json``) as a Moodle XML ``<quiz>``; images (by
    upload id: file name and bytes) embedded in the question that shows them."""

    def __init__(self, images: dict[int, tuple[str, bytes]]) -> None:
        self.images = images

    def _html(self, markdown: str, used: set[int]) -> str:
        def src(upload_id: int) -> str | None:
            if upload_id not in self.images:
                return None
            used.add(upload_id)
            return PLUGINFILE + self.images[upload_id][0]

        return markdown_to_html(markdown, src)

    def _files(self, element: Element, used: set[int]) -> None:
        for upload_id in sorted(used):
            name, body = self.images[upload_id]
            file = SubElement(element, "file", {"name": name, "path": "/", "encoding": "base64"})
            file.text = base64.b64encode(body).decode()

    def question(self, quiz: Element, question: dict[str, Any]) -> None:
        kind = question["kind"]
        if kind in ("SINGLE_CHOICE", "MULTIPLE_CHOICE"):
            moodle_type = "multichoice"
        elif kind == "TRUE_FALSE":
            moodle_type = "truefalse"
        elif kind == "ESSAY":
            moodle_type = "essay"
        elif all(a["mode"] == "numeric" for a in question["answers"]):
            moodle_type = "numerical"
        else:
            moodle_type = "shortanswer"
        element = SubElement(quiz, "question", {"type": moodle_type})
        SubElement(SubElement(element, "name"), "text").text = question["title"]
        used: set[int] = set()
        prompt = _text_element(element, "questiontext", self._html(question["prompt"], used))
        _text_element(element, "generalfeedback", self._html(question["explanation"], set()))
        SubElement(element, "defaultgrade").text = common.fraction_text(question["points"])
        SubElement(element, "penalty").text = "0"
        SubElement(element, "hidden").text = "0"
        getattr(self, f"_{moodle_type}")(element, question, used)
        self._files(prompt, used)
        if question["tags"]:
            tags = SubElement(element, "tags")
            for tag in question["tags"]:
                SubElement(SubElement(tags, "tag"), "text").text = tag

    def _answer(self, element: Element, fraction: float, html: str, fmt: str = "html") -> Element:
        answer = SubElement(
            element, "answer", {"fraction": common.fraction_text(fraction), "format": fmt}
        )
        SubElement(answer, "text").text = html
        SubElement(SubElement(answer, "feedback", {"format": "html"}), "text").text = ""
        return answer

    def _multichoice(self, element: Element, question: dict[str, Any], used: set[int]) -> None:
        single = question["kind"] == "SINGLE_CHOICE"
        SubElement(element, "single").text = "true" if single else "false"
        SubElement(element, "shuffleanswers").text = "1" if question["shuffle"] else "0"
        SubElement(element, "answernumbering").text = "abc"
        right = sum(1 for choice in question["choices"] if choice["correct"])
        for choice in question["choices"]:
            if single:
                fraction = 100.0 if choice["correct"] else 0.0
            else:
                fraction = (100.0 if choice["correct"] else -100.0) / right
            self._answer(element, fraction, self._html(choice["text"], used))

    def _truefalse(self, element: Element, question: dict[str, Any], used: set[int]) -> None:
        for value in (True, False):
            fraction = 100.0 if question["correct"] is value else 0.0
            self._answer(element, fraction, "true" if value else "false", "moodle_auto_format")

    def _shortanswer(self, element: Element, question: dict[str, Any], used: set[int]) -> None:
        exact = any(a["mode"] == "exact" for a in question["answers"])
        SubElement(element, "usecase").text = "1" if exact else "0"
        for answer in question["answers"]:
            text = common.answer_text_for_export(answer)
            if text is not None:
                self._answer(element, 100.0, text, "moodle_auto_format")

    def _numerical(self, element: Element, question: dict[str, Any], used: set[int]) -> None:
        for answer in question["answers"]:
            node = self._answer(
                element, 100.0, common.fraction_text(answer["value"]), "moodle_auto_format"
            )
            SubElement(node, "tolerance").text = common.fraction_text(common.tolerance(answer))

    def _essay(self, element: Element, question: dict[str, Any], used: set[int]) -> None:
        SubElement(element, "responseformat").text = "editor"
        SubElement(element, "responserequired").text = "1"
        SubElement(element, "responsefieldlines").text = "15"
        _text_element(element, "graderinfo", self._html(question["guidance"], set()))


def write(questions: list[dict[str, Any]], images: dict[int, tuple[str, bytes]]) -> bytes:
    quiz = Element("quiz")
    writer = Writer(images)
    for question in questions:
        writer.question(quiz, question)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(quiz, encoding="utf-8")
