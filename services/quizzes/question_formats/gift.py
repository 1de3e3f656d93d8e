"""GIFT, Moodle's plain-text question format, read into the bank's fields.

A question is ``::title:: text {answers} more text``, questions apart by blank lines, ``//``
comment lines, ``$CATEGORY: path`` lines (a tag for what follows), ``\\`` escaping
``~ = # { } :`` and ``\\n`` a new line. Answers: ``{=right ~wrong}`` one right choice,
``{~%50%a ~%50%b ~%-100%c}`` several right choices, ``{=a =b}`` short answer, ``{T}`` /
``{FALSE}`` true or false, ``{#3.14:0.01}`` / ``{#1..2}`` numbers, ``{}`` essay; ``#text``
after an answer is its feedback, ``####text`` the general feedback (the explanation).
Matching (``->``) and questions with several blanks are skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from coursehub.services.quizzes.question_formats import common
from coursehub.services.quizzes.question_formats.html_markdown import html_to_markdown
from coursehub.services.quizzes.question_formats.incoming import Incoming, ReadFile
from coursehub.services.quizzes.quiz_errors import QuizError

FORMAT = "gift"
_ESCAPABLE = "~=#{}:\\"
# Placeholders for escaped characters while a question is cut up (private-use code points).
_HIDE = {char: chr(0xE000 + index) for index, char in enumerate(_ESCAPABLE)}
_SHOW = {hidden: char for char, hidden in _HIDE.items()}
_FORMAT_PREFIX = re.compile(r"^\[(html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


@dataclass
class _Block:
    line: int
    text: str


def _hide_escapes(text: str) -> str:
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following in _HIDE:
                out.append(_HIDE[following])
                index += 2
                continue
            if following == "n":
                out.append("\n")
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _show(text: str) -> str:
    return "".join(_SHOW.get(char, char) for char in text)


def _blocks(source: str) -> tuple[list[_Block], list[tuple[int, str]]]:
    """Questions as blocks of lines (comments dropped), and category lines by line number."""
    blocks: list[_Block] = []
    categories: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            continue
        if line.startswith("$CATEGORY:"):
            categories.append((number, line.split(":", 1)[1].strip()))
            continue
        if not line.strip():
            if current:
                blocks.append(_Block(start, "\n".join(current)))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append(_Block(start, "\n".join(current)))
    return blocks, categories


def _markdown(text: str, fmt: str) -> str:
    text = text.strip()
    if fmt == "markdown":
        return _show(text)
    if fmt != "html":
        # Moodle auto-format and plain text: lines as they are, nothing in them markup.
        escaped = _show(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return html_to_markdown(escaped.replace("\n", "<br>"), lambda _: None)
    return html_to_markdown(_show(text), lambda _: None)


def _split_answers(body: str) -> list[tuple[str, str, str]]:
    """``=a#fb ~b`` as [(marker, text, feedback)]."""
    parts = re.split(r"([=~])", body)
    answers = []
    for index in range(1, len(parts), 2):
        text, _, feedback = parts[index + 1].partition("#")
        answers.append((parts[index], text.strip(), feedback.strip()))
    return answers


class _Reader:
    def __init__(self, block: _Block, tag: str | None) -> None:
        self.block = block
        self.tag = tag
        self.notes: list[str] = []
        self.fmt = "moodle"

    def text(self, text: str) -> str:
        return _markdown(text, self.fmt)

    def read(self) -> tuple[str, dict[str, Any]]:
        text = _hide_escapes(self.block.text)
        title = ""
        match = re.match(r"^\s*::(.*?)::", text, re.DOTALL)
        if match:
            title, text = _show(match.group(1)).strip(), text[match.end() :]
        text = text.strip()
        fmt_match = _FORMAT_PREFIX.match(text)
        if fmt_match:
            self.fmt, text = fmt_match.group(1).lower(), text[fmt_match.end() :]
        opened, closed = text.count("{"), text.count("}")
        if opened == 0:
            raise QuizError("it has no answer in braces { }; a description is not a question")
        if opened > 1 or closed != opened:
            raise QuizError(
                "its braces do not pair up (one answer block per question; escape a literal "
                "brace as \\{ or \\})"
            )
        before, _, rest = text.partition("{")
        body, _, after = rest.partition("}")
        body, _, general = body.partition("####")
        prompt = before.strip()
        if after.strip():
            prompt = f"{prompt} _____ {after.strip()}"
        fields = self.answers(body.strip())
        fields |= {
            "title": title[:200],
            "prompt": self.text(prompt),
            "explanation": self.text(general),
            "tags": [self.tag] if self.tag else [],
        }
        return title, fields

    def answers(self, body: str) -> dict[str, Any]:
        if not body:
            return {"kind": "ESSAY", "guidance": ""}
        head = body.split("#", 1)[0].strip().upper()
        if head in ("T", "TRUE", "F", "FALSE"):
            return {"kind": "TRUE_FALSE", "correct": head.startswith("T")}
        if body.startswith("#"):
            return self.numeric(body[1:])
        if "->" in body:
            raise QuizError("matching questions (->) have no CourseHub counterpart")
        answers = _split_answers(body)
        if not answers:
            raise QuizError("its answers are not written with = or ~")
        if all(marker == "=" for marker, _, _ in answers):
            accepted = [
                common.short_answer(_show(text), case_sensitive=False)
                for _, text, _ in answers
                if not _WEIGHT.match(text)
            ]
            return {"kind": "FILL_IN", "answers": accepted, "display": _show(answers[0][1])}
        return self.choices(answers)

    def choices(self, answers: list[tuple[str, str, str]]) -> dict[str, Any]:
        choices = []
        weighted = False
        for marker, raw, _ in answers:
            weight = _WEIGHT.match(raw)
            text = raw[weight.end() :] if weight else raw
            value = float(weight.group(1)) if weight else (100.0 if marker == "=" else 0.0)
            weighted = weighted or bool(weight)
            choices.append({"text": self.text(text), "correct": value > 0})
        right = sum(1 for choice in choices if choice["correct"])
        if weighted and any(marker == "~" for marker, _, _ in answers) and right > 1:
            self.notes.append(
                "GIFT's per-choice percentages become CourseHub's right-minus-wrong scoring."
            )
            return {"kind": "MULTIPLE_CHOICE", "choices": choices}
        if right != 1:
            raise QuizError("a choice question needs exactly one = answer, or weights (~%50%)")
        return {"kind": "SINGLE_CHOICE", "choices": choices}

    def numeric(self, body: str) -> dict[str, Any]:
        items = [(m, t, f) for m, t, f in _split_answers(body)] or [("=", body.split("#")[0], "")]
        answers = []
        for _, raw, _ in items:
            weight = _WEIGHT.match(raw)
            if weight and float(weight.group(1)) < 100:
                self.notes.append(
                    f"The partly right answer {raw!r} was left out: CourseHub accepts only "
                    "fully right answers."
                )
                continue
            text = _show(raw[weight.end() :] if weight else raw).strip()
            if ".." in text:
                low, high = (common.number(part) for part in text.split("..", 1))
                if low is None or high is None or high < low:
                    raise QuizError(f"its range {text!r} is not two numbers, low..high")
                answers.append(
                    {"mode": "numeric", "value": (low + high) / 2, "abs_tol": (high - low) / 2}
                )
                continue
            value_text, _, tol_text = text.partition(":")
            value = common.number(value_text)
            tol = common.number(tol_text) if tol_text else 0.0
            if value is None or tol is None:
                raise QuizError(f"its answer {text!r} is not a number (value:tolerance)")
            answers.append({"mode": "numeric", "value": value, "abs_tol": abs(tol)})
        if not answers:
            raise QuizError("it has no fully right numeric answer")
        return {"kind": "FILL_IN", "answers": answers, "display": f"{answers[0]['value']:g}"}


def read(data: bytes) -> ReadFile:
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise QuizError(
            "The GIFT file is not UTF-8 text; save it as UTF-8 and try again."
        ) from None
    blocks, categories = _blocks(source)
    read = ReadFile(FORMAT)
    for block in blocks:
        category = next((path for line, path in reversed(categories) if line < block.line), "")
        reader = _Reader(block, common.tag_from_category(category) if category else None)
        source_name = f"line {block.line}"
        try:
            title, fields = reader.read()
        except QuizError as error:
            read.skip(source_name, error.message)
            continue
        if title:
            source_name += f" ({title!r})"
        fields["points"] = 1.0
        read.questions.append(Incoming(source_name, fields, reader.notes))
    return read
