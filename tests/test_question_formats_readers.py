"""The question file readers on their own (no service): GIFT's corners (escapes, comments,
feedback, weights, ranges, formats), Moodle XML's text formats, a lone QTI assessment, and
zips and XML that try to do harm."""

from __future__ import annotations

import io
import zipfile

import pytest

from coursehub.services.quizzes.question_formats import bank_import, gift, moodle_xml, qti
from coursehub.services.quizzes.question_formats.safe_files import read_zip
from coursehub.services.quizzes.quiz_errors import QuizError
from tests import question_files_data as samples


def only(read):  # type: ignore[no-untyped-def]
    assert read.skipped == [], read.skipped
    [question] = read.questions
    return question.fields


def test_gift_escapes_feedback_and_line_breaks_stay_text():
    fields = only(
        gift.read(
            b"// leading comment\n"
            b"::Esc\\:aped:: Half of \\{x\\} is \\~half\\nof it? {\n"
            b"  =yes#right // not a comment inside answers? it is feedback text\n"
            b"  ~no#wrong\n}\n"
        )
    )
    assert fields["title"] == "Esc:aped"
    assert fields["prompt"] == "Half of {x} is ~half  \nof it?"
    assert [c["text"] for c in fields["choices"]] == ["yes", "no"]


def test_gift_weights_numbers_and_formats():
    numbers = only(gift.read(b"Pick {#=1.5:0.1 =%50%1.4:0.2 #feedback}"))
    assert numbers["answers"] == [{"mode": "numeric", "value": 1.5, "abs_tol": 0.1}]
    html = only(gift.read(b"[html]<p>Is <b>this</b> bold?</p>{T}"))
    assert html["prompt"] == "Is **this** bold?"
    plain = only(gift.read(b"Is <b>this</b> bold? {F}"))
    assert plain["prompt"] == "Is <b>this</b> bold?"  # shown as typed, not as markup
    single = gift.read(b"Two right answers? {=a =b ~c}")
    assert single.skipped[0].reason.startswith("a choice question needs exactly one")


def test_moodle_plain_text_and_markdown_formats():
    data = (
        b"<quiz><question type='essay'><name><text>Plain</text></name>"
        b"<questiontext format='plain_text'><text>a &lt; b &amp; c_d</text></questiontext>"
        b"</question><question type='essay'><name><text>Md</text></name>"
        b"<questiontext format='markdown'><text>**bold** _it_</text></questiontext>"
        b"</question></quiz>"
    )
    read = moodle_xml.read(data)
    assert [q.fields["prompt"] for q in read.questions] == ["a < b & c\\_d", "**bold** _it_"]


def test_a_lone_qti_assessment_is_read_without_its_zip():
    with zipfile.ZipFile(io.BytesIO(samples.canvas_zip())) as archive:
        xml = archive.read("g7a1c2e/g7a1c2e.xml")
    understood = bank_import.understand(xml, "assessment.xml")
    assert understood.read.format == "qti" and len(understood.checked) == 7
    # Without the zip there is no image: its description stands in, with a note.
    incoming, checked = understood.checked[0]
    assert "![" not in checked["prompt"] and "two resistors in series" in checked["prompt"]
    assert any("not in the zip" in note for note in incoming.notes)


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", b"<manifest/>")
        archive.writestr("bomb.xml", b"\0" * (30 * 1024 * 1024))
    with pytest.raises(QuizError, match="unpacks to more than CourseHub reads"):
        read_zip(buffer.getvalue())


@pytest.mark.parametrize("name", ["/etc/cron.d/x", "a/../../b", "..\\..\\win.ini", "C:/x"])
def test_zip_member_paths_that_leave_the_zip_are_refused(name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"x")
    with pytest.raises(QuizError, match="leads outside it"):
        qti.read(buffer.getvalue())


def test_formats_are_recognised_from_the_content():
    assert bank_import.detect_format(samples.moodle_xml(), "", "") == "moodle_xml"
    assert bank_import.detect_format(samples.gift(), "x.txt", "") == "gift"
    assert bank_import.detect_format(samples.canvas_zip(), "", "") == "qti"
    with pytest.raises(QuizError, match="format must be one of"):
        bank_import.detect_format(b"x", "", "word")


def test_xml_in_an_unknown_encoding_is_refused_clearly():
    with pytest.raises(QuizError, match="text encoding CourseHub cannot read"):
        moodle_xml.read(b'<?xml version="1.0" encoding="klingon"?><quiz/>')
