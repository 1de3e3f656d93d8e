"""QTI 1.2 as Canvas exports quizzes (a zip: ``imsmanifest.xml``, one assessment XML per quiz,
images under ``web_resources``), read into the bank's fields and written from them.

Read: Canvas's ``multiple_choice_question``, ``true_false_question``,
``multiple_answers_question``, ``short_answer_question``, ``numerical_question`` and
``essay_question`` (from each item's ``question_type`` metadata), their images
(``$IMS-CC-FILEBASE$/…`` or paths relative to the assessment), points and general feedback.
Other types are listed as skipped with the reason.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import Any
from urllib.parse import quote, unquote
from xml.etree.ElementTree import Element, SubElement, tostring

from coursehub.services.quizzes.question_formats import common
from coursehub.services.quizzes.question_formats.html_markdown import (
    html_to_markdown,
    markdown_to_html,
)
from coursehub.services.quizzes.question_formats.incoming import Incoming, ReadFile
from coursehub.services.quizzes.question_formats.safe_files import read_xml, read_zip
from coursehub.services.quizzes.quiz_errors import QuizError

FORMAT = "qti"
FILEBASE = "$IMS-CC-FILEBASE$/"
QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
UNSUPPORTED = {
    "matching_question": "matching questions have no CourseHub counterpart",
    "multiple_dropdowns_question": "multiple dropdowns have no CourseHub counterpart",
    "fill_in_multiple_blanks_question": "several blanks in one question have no CourseHub "
    "counterpart",
    "calculated_question": "Canvas's formula questions use its own formulas; write it again as "
    "a CourseHub calculated question",
    "file_upload_question": "file upload questions have no CourseHub counterpart",
    "text_only_question": "it is text only, not a question",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(root: Element) -> Element:
    for element in root.iter():
        element.tag = _local(element.tag)
    return root


def _metadata(item: Element) -> dict[str, str]:
    fields = {}
    for field in item.iter("qtimetadatafield"):
        label = field.findtext("fieldlabel") or ""
        fields[label.strip()] = (field.findtext("fieldentry") or "").strip()
    return fields


class _Item:
    def __init__(self, item: Element, base: str, read: ReadFile, files: dict[str, bytes]) -> None:
        self.item = item
        self.base = base  # the assessment's folder in the zip
        self.read = read
        self.files = files
        self.notes: list[str] = []

    def image_key(self, src: str) -> str | None:
        src = unquote(src.split("?")[0])
        if src.startswith(FILEBASE):
            candidates = [posixpath.join("web_resources", src[len(FILEBASE) :])]
        else:
            candidates = [posixpath.normpath(posixpath.join(self.base, src)), src]
        for candidate in candidates:
            if candidate in self.files:
                return self.read.add_image(self.files[candidate])
        self.notes.append(f"The image {src!r} is not in the zip; its description is shown.")
        return None

    def markdown(self, material: Element | None) -> str:
        if material is None:
            return ""
        text = material.find(".//mattext")
        if text is None:
            return ""
        raw = text.text or ""
        if text.get("texttype", "text/plain") != "text/html":
            raw = raw.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>")
        return html_to_markdown(raw, self.image_key)

    def labels(self) -> list[tuple[str, Element]]:
        return [(label.get("ident") or "", label) for label in self.item.iter("response_label")]

    def set_values(self) -> list[tuple[Element, float]]:
        """Each respcondition with the score it sets."""
        found = []
        for condition in self.item.iter("respcondition"):
            setvar = condition.find("setvar")
            value = common.number(setvar.text if setvar is not None else None)
            if value is not None and condition.find("conditionvar") is not None:
                found.append((condition.find("conditionvar"), value))  # type: ignore[arg-type]
        return found

    def right_idents(self) -> set[str]:
        right: set[str] = set()
        for condition, value in self.set_values():
            if value <= 0:
                continue
            for equal in condition.iter("varequal"):
                right.add((equal.text or "").strip())
            for negated in condition.iter("not"):
                for equal in negated.iter("varequal"):
                    right.discard((equal.text or "").strip())
        return right

    def choices(self, kind: str) -> dict[str, Any]:
        right = self.right_idents()
        choices = [
            {"text": self.markdown(label.find("material")), "correct": ident in right}
            for ident, label in self.labels()
        ]
        render = self.item.find(".//render_choice")
        shuffle = render is not None and (render.get("shuffle") or "").lower() == "yes"
        return {"kind": kind, "choices": choices, "shuffle": shuffle}

    def true_false(self) -> dict[str, Any]:
        right = self.right_idents()
        for ident, label in self.labels():
            text = (label.findtext(".//mattext") or "").strip().lower()
            if ident in right and text in ("true", "false"):
                return {"kind": "TRUE_FALSE", "correct": text == "true"}
        raise QuizError("it marks neither True nor False as right")

    def short_answer(self) -> dict[str, Any]:
        answers = []
        for condition, value in self.set_values():
            if value < 100 and value > 0:
                self.notes.append("A partly right answer was left out.")
            if value < 100:
                continue
            for equal in condition.iter("varequal"):
                text = (equal.text or "").strip()
                if text:
                    answers.append({"mode": "case_insensitive", "value": text})
        if not answers:
            raise QuizError("it has no answer worth full marks")
        return {"kind": "FILL_IN", "answers": answers, "display": answers[0]["value"]}

    def numerical(self) -> dict[str, Any]:
        answers = []
        for condition, value in self.set_values():
            if value < 100:
                continue
            either = condition.find("or")
            for branch in list(either) if either is not None else [condition]:
                answers.extend(self._numeric_branch(branch))
        if not answers:
            raise QuizError("it has no numeric answer worth full marks")
        return {"kind": "FILL_IN", "answers": answers, "display": f"{answers[0]['value']:g}"}

    @staticmethod
    def _numeric_branch(branch: Element) -> list[dict[str, Any]]:
        """An exact answer (``varequal``) or a range (``vargte``/``varlte``, with the exact
        answer inside when Canvas gave one)."""
        if branch.tag == "varequal":
            value = common.number(branch.text)
            return [] if value is None else [{"mode": "numeric", "value": value, "abs_tol": 0.0}]
        low = common.number(branch.findtext("vargte") or branch.findtext("vargt"))
        high = common.number(branch.findtext("varlte") or branch.findtext("varlt"))
        exact = common.number(branch.findtext("varequal"))
        if low is None or high is None:
            return [] if exact is None else [{"mode": "numeric", "value": exact, "abs_tol": 0.0}]
        value = exact if exact is not None else (low + high) / 2
        tol = round(max(value - low, high - value), 12)
        return [{"mode": "numeric", "value": value, "abs_tol": tol}]


def _merge_numeric(fields: dict[str, Any]) -> dict[str, Any]:
    """Canvas writes an exact answer and its range side by side: keep the range."""
    answers: list[dict[str, Any]] = []
    for answer in fields.get("answers", []):
        if answer.get("mode") == "numeric" and any(
            kept["value"] == answer["value"] for kept in answers
        ):
            for kept in answers:
                if kept["value"] == answer["value"]:
                    kept["abs_tol"] = max(kept["abs_tol"], answer["abs_tol"])
            continue
        answers.append(answer)
    return {**fields, "answers": answers} if "answers" in fields else fields


def _assessments(files: dict[str, bytes]) -> list[str]:
    """The assessment XML files the manifest lists (or, without one, any QTI file)."""
    paths: list[str] = []
    if "imsmanifest.xml" in files:
        manifest = _strip_namespaces(read_xml(files["imsmanifest.xml"], "zip's imsmanifest.xml"))
        for resource in manifest.iter("resource"):
            if (resource.get("type") or "").startswith("imsqti_xmlv1p2"):
                href = resource.get("href") or ""
                hrefs = [href] + [f.get("href") or "" for f in resource.findall("file")]
                paths += [posixpath.normpath(h) for h in hrefs if h.endswith((".xml", ".qti"))]
    if not paths:
        paths = [name for name in files if name.endswith(".xml") and name != "imsmanifest.xml"]
    return [path for path in dict.fromkeys(paths) if path in files]


def _read_assessment(root: Element, base: str, files: dict[str, bytes], read: ReadFile) -> None:
    assessment = root.find(".//assessment")
    if assessment is not None and not read.title:
        read.title = (assessment.get("title") or "").strip()
    for number, item in enumerate(root.iter("item"), start=len(read.questions) + 1):
        title = (item.get("title") or "").strip()
        meta = _metadata(item)
        kind = meta.get("question_type", "")
        source = f"item {number}" + (f" ({title!r})" if title else "")
        reader = _Item(item, base, read, files)
        try:
            if kind == "multiple_choice_question":
                fields = reader.choices("SINGLE_CHOICE")
            elif kind == "multiple_answers_question":
                fields = reader.choices("MULTIPLE_CHOICE")
            elif kind == "true_false_question":
                fields = reader.true_false()
            elif kind == "short_answer_question":
                fields = reader.short_answer()
            elif kind == "numerical_question":
                fields = _merge_numeric(reader.numerical())
            elif kind == "essay_question":
                fields = {"kind": "ESSAY", "guidance": ""}
            else:
                read.skip(source, UNSUPPORTED.get(kind, f"the question type {kind!r} is unknown"))
                continue
        except QuizError as error:
            read.skip(source, error.message)
            continue
        general = next(
            (fb for fb in item.findall("itemfeedback") if fb.get("ident") == "general_fb"), None
        )
        fields |= {
            "title": "" if title.lower() == "question" else title[:200],
            "prompt": reader.markdown(item.find("presentation/material")),
            "explanation": reader.markdown(
                general.find(".//material") if general is not None else None
            ),
            "points": common.points_of(meta.get("points_possible")),
        }
        read.questions.append(Incoming(source, fields, reader.notes))


def read(data: bytes) -> ReadFile:
    files = read_zip(data)
    read = ReadFile(FORMAT)
    paths = _assessments(files)
    for path in paths:
        root = _strip_namespaces(read_xml(files[path], f"zip's {path}"))
        if root.tag == "questestinterop":
            _read_assessment(root, posixpath.dirname(path), files, read)
    if not read.questions and not read.skipped:
        raise QuizError(
            "The zip holds no QTI 1.2 assessment (an imsmanifest.xml listing an "
            "imsqti_xmlv1p2 resource); export the quiz from Canvas as a QTI zip."
        )
    return read


def read_xml_only(data: bytes) -> ReadFile:
    """A lone QTI assessment XML (no zip, so no images)."""
    read = ReadFile(FORMAT)
    _read_assessment(_strip_namespaces(read_xml(data, "QTI file")), "", {}, read)
    return read


# -- writing -------------------------------------------------------------------------------------


def _field(meta: Element, label: str, entry: str) -> None:
    field = SubElement(meta, "qtimetadatafield")
    SubElement(field, "fieldlabel").text = label
    SubElement(field, "fieldentry").text = entry


def _material(parent: Element, html: str) -> Element:
    material = SubElement(parent, "material")
    SubElement(material, "mattext", {"texttype": "text/html"}).text = html
    return material


class Writer:
    def __init__(self, images: dict[int, tuple[str, bytes]]) -> None:
        self.images = images
        self.used: set[int] = set()

    def html(self, markdown: str) -> str:
        def src(upload_id: int) -> str | None:
            if upload_id not in self.images:
                return None
            self.used.add(upload_id)
            return FILEBASE + "quiz_images/" + quote(self.images[upload_id][0])

        return markdown_to_html(markdown, src)

    def item(self, section: Element, question: dict[str, Any], number: int) -> None:
        kind = question["kind"]
        canvas = {
            "SINGLE_CHOICE": "multiple_choice_question",
            "MULTIPLE_CHOICE": "multiple_answers_question",
            "TRUE_FALSE": "true_false_question",
            "ESSAY": "essay_question",
        }.get(kind)
        if canvas is None:
            numeric = all(a["mode"] == "numeric" for a in question["answers"])
            canvas = "numerical_question" if numeric else "short_answer_question"
        item = SubElement(
            section, "item", {"ident": f"q{number}", "title": question["title"] or "Question"}
        )
        meta = SubElement(SubElement(item, "itemmetadata"), "qtimetadata")
        _field(meta, "question_type", canvas)
        _field(meta, "points_possible", common.fraction_text(question["points"]))
        presentation = SubElement(item, "presentation")
        _material(presentation, self.html(question["prompt"]))
        processing = SubElement(item, "resprocessing")
        outcomes = SubElement(processing, "outcomes")
        SubElement(
            outcomes,
            "decvar",
            {"maxvalue": "100", "minvalue": "0", "varname": "SCORE", "vartype": "Decimal"},
        )
        getattr(self, canvas)(presentation, processing, question)
        if question["explanation"]:
            processing.append(self._feedback_condition())
            feedback = SubElement(item, "itemfeedback", {"ident": "general_fb"})
            _material(SubElement(feedback, "flow_mat"), self.html(question["explanation"]))

    @staticmethod
    def _feedback_condition() -> Element:
        condition = Element("respcondition", {"continue": "Yes"})
        SubElement(SubElement(condition, "conditionvar"), "other")
        SubElement(
            condition, "displayfeedback", {"feedbacktype": "Response", "linkrefid": "general_fb"}
        )
        return condition

    def _choices(
        self,
        presentation: Element,
        labels: list[tuple[str, str]],
        cardinality: str,
        shuffle: bool = False,
    ) -> None:
        response = SubElement(
            presentation, "response_lid", {"ident": "response1", "rcardinality": cardinality}
        )
        render = SubElement(response, "render_choice", {"shuffle": "Yes" if shuffle else "No"})
        for ident, html in labels:
            label = SubElement(render, "response_label", {"ident": ident})
            _material(label, html)

    @staticmethod
    def _score(processing: Element, conditions: Element) -> None:
        condition = SubElement(processing, "respcondition", {"continue": "No"})
        condition.append(conditions)
        setvar = SubElement(condition, "setvar", {"action": "Set", "varname": "SCORE"})
        setvar.text = "100"

    def multiple_choice_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        labels = [(f"c{i}", self.html(c["text"])) for i, c in enumerate(question["choices"])]
        self._choices(presentation, labels, "Single", question["shuffle"])
        right = next(i for i, c in enumerate(question["choices"]) if c["correct"])
        conditions = Element("conditionvar")
        SubElement(conditions, "varequal", {"respident": "response1"}).text = f"c{right}"
        self._score(processing, conditions)

    def multiple_answers_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        labels = [(f"c{i}", self.html(c["text"])) for i, c in enumerate(question["choices"])]
        self._choices(presentation, labels, "Multiple", question["shuffle"])
        conditions = Element("conditionvar")
        both = SubElement(conditions, "and")
        for index, choice in enumerate(question["choices"]):
            parent = both if choice["correct"] else SubElement(both, "not")
            SubElement(parent, "varequal", {"respident": "response1"}).text = f"c{index}"
        self._score(processing, conditions)

    def true_false_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        self._choices(presentation, [("t", "True"), ("f", "False")], "Single")
        conditions = Element("conditionvar")
        right = "t" if question["correct"] else "f"
        SubElement(conditions, "varequal", {"respident": "response1"}).text = right
        self._score(processing, conditions)

    def short_answer_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        response = SubElement(
            presentation, "response_str", {"ident": "response1", "rcardinality": "Single"}
        )
        SubElement(response, "render_fib", {"fibtype": "String", "prompt": "Box"})
        conditions = Element("conditionvar")
        for answer in question["answers"]:
            text = common.answer_text_for_export(answer, wildcards=False)
            if text is not None:
                SubElement(conditions, "varequal", {"respident": "response1"}).text = text
        self._score(processing, conditions)

    def numerical_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        response = SubElement(
            presentation, "response_str", {"ident": "response1", "rcardinality": "Single"}
        )
        SubElement(response, "render_fib", {"fibtype": "Decimal"})
        conditions = Element("conditionvar")
        either = SubElement(conditions, "or")
        for answer in question["answers"]:
            value, tol = float(answer["value"]), common.tolerance(answer)
            SubElement(either, "varequal", {"respident": "response1"}).text = common.fraction_text(
                value
            )
            both = SubElement(either, "and")
            SubElement(both, "vargte", {"respident": "response1"}).text = repr(value - tol)
            SubElement(both, "varlte", {"respident": "response1"}).text = repr(value + tol)
        self._score(processing, conditions)

    def essay_question(
        self, presentation: Element, processing: Element, question: dict[str, Any]
    ) -> None:
        response = SubElement(
            presentation, "response_str", {"ident": "response1", "rcardinality": "Single"}
        )
        SubElement(response, "render_fib")
        condition = SubElement(processing, "respcondition", {"continue": "No"})
        SubElement(SubElement(condition, "conditionvar"), "other")


def _manifest(ident: str, image_paths: list[str]) -> bytes:
    manifest = Element("manifest", {"identifier": f"{ident}_manifest", "xmlns": CP_NS})
    metadata = SubElement(manifest, "metadata")
    SubElement(metadata, "schema").text = "IMS Content"
    SubElement(metadata, "schemaversion").text = "1.1.3"
    SubElement(manifest, "organizations")
    resources = SubElement(manifest, "resources")
    resource = SubElement(
        resources,
        "resource",
        {"identifier": ident, "type": "imsqti_xmlv1p2", "href": f"{ident}/{ident}.xml"},
    )
    SubElement(resource, "file", {"href": f"{ident}/{ident}.xml"})
    for number, path in enumerate(image_paths, start=1):
        image = SubElement(
            resources,
            "resource",
            {"identifier": f"image{number}", "type": "webcontent", "href": path},
        )
        SubElement(image, "file", {"href": path})
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(manifest, encoding="utf-8")


def write(
    title: str, questions: list[dict[str, Any]], images: dict[int, tuple[str, bytes]]
) -> bytes:
    """A zip Canvas imports as a quiz (Import Course Content: QTI .zip file)."""
    ident = "coursehub_" + re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:40]
    root = Element("questestinterop", {"xmlns": QTI_NS})
    assessment = SubElement(root, "assessment", {"ident": ident, "title": title})
    section = SubElement(assessment, "section", {"ident": "root_section"})
    writer = Writer(images)
    for number, question in enumerate(questions, start=1):
        writer.item(section, question, number)
    buffer = io.BytesIO()
    image_paths = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")
        archive.writestr(f"{ident}/{ident}.xml", body)
        for upload_id in sorted(writer.used):
            name, data = images[upload_id]
            path = f"web_resources/quiz_images/{name}"
            archive.writestr(path, data)
            image_paths.append(path)
        archive.writestr("imsmanifest.xml", _manifest(ident, image_paths))
    return buffer.getvalue()
