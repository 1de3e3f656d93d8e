"""Reading untrusted XML and zips: no DTDs or entities (no XXE, no entity bombs), bounded
sizes, and zip members never written to disk nor allowed to name a path outside the zip."""

from __future__ import annotations

import io
import posixpath
import zipfile
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from coursehub.services.quizzes.quiz_errors import QuizError

MB = 1024 * 1024
MAX_FILE_BYTES = 20 * MB  # an uploaded question file
MAX_ZIP_MEMBERS = 2000
MAX_UNPACKED_BYTES = 60 * MB  # all members of a zip together
MAX_MEMBER_BYTES = 20 * MB
MAX_RATIO = 200  # a member unpacking to more than this many times its packed size: a bomb


def check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise QuizError(
            f"The file is {len(data) / MB:.0f} MB; question files can be at most "
            f"{MAX_FILE_BYTES // MB} MB. Export fewer questions at a time.",
            413,
        )
    if not data.strip():
        raise QuizError("The file is empty; choose the exported question file and try again.")


def read_xml(data: bytes, what: str) -> Element:
    """The root element of ``data``, or a QuizError naming what is wrong (and where)."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise QuizError(
            f"The {what} declares a DTD or XML entities, which CourseHub does not read (they "
            "can make a file expand without end or reach other files). Export it again without "
            "them."
        ) from None
    except (LookupError, UnicodeError):
        raise QuizError(
            f"The {what} declares a text encoding CourseHub cannot read; save it as UTF-8."
        ) from None
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise QuizError(
            f"The {what} is not well-formed XML (line {line}, column {column + 1}): "
            f"{str(error).split(':')[0]}."
        ) from None


def _safe_name(name: str) -> str:
    normal = posixpath.normpath(name.replace("\\", "/"))
    if (
        name.startswith(("/", "\\"))
        or normal.startswith("../")
        or normal == ".."
        or (len(name) > 1 and name[1] == ":")
    ):
        raise QuizError(
            f"The zip holds a file whose path leads outside it ({name!r}); CourseHub reads "
            "no such zip. Export the quiz again from its LMS."
        )
    return normal


def read_zip(data: bytes) -> dict[str, bytes]:
    """Every file of the zip by its normalised path, within the limits, or a QuizError."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError):
        raise QuizError("The file is not a readable zip; export the quiz again.") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise QuizError(f"The zip holds more than {MAX_ZIP_MEMBERS} files; export fewer.")
    names = [_safe_name(info.filename) for info in members]
    total = sum(info.file_size for info in members)
    if total > MAX_UNPACKED_BYTES or any(
        info.file_size > MAX_MEMBER_BYTES
        or info.file_size > MAX_RATIO * max(info.compress_size, 1024)
        for info in members
    ):
        raise QuizError(
            f"The zip unpacks to more than CourseHub reads ({MAX_UNPACKED_BYTES // MB} MB in "
            f"all, {MAX_MEMBER_BYTES // MB} MB a file); export fewer questions or smaller "
            "images."
        )
    files: dict[str, bytes] = {}
    try:
        for name, info in zip(names, members, strict=True):
            with archive.open(info) as member:
                body = member.read(MAX_MEMBER_BYTES + 1)
            if len(body) != info.file_size:
                raise QuizError(f"The zip's file {name!r} is not the size the zip says.")
            files[name] = body
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError):
        raise QuizError("The zip is damaged or encrypted; export the quiz again.") from None
    return files
