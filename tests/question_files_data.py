"""The sample question files of ``tests/question_files`` as bytes, and hostile files made on
the spot (an entity bomb, an external entity, a zip escaping its folder, a 50 MB file)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FILES = Path(__file__).resolve().parent / "question_files"
CANVAS_IMAGE = FILES / "canvas_qti" / "web_resources" / "Uploaded Media" / "diagram.png"


def moodle_xml() -> bytes:
    return (FILES / "moodle_every_type.xml").read_bytes()


def gift() -> bytes:
    return (FILES / "every_type.gift").read_bytes()


def canvas_zip() -> bytes:
    """The Canvas QTI export folder zipped as Canvas does (paths relative to its root)."""
    buffer = io.BytesIO()
    folder = FILES / "canvas_qti"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def entity_bomb() -> bytes:
    """ "Billion laughs": ten levels of entities, each ten of the one below."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE quiz [", '  <!ENTITY lol0 "lol">']
    for level in range(1, 10):
        lines.append(f'  <!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    lines += [
        "]>",
        '<quiz><question type="essay"><name><text>&lol9;</text></name></question></quiz>',
    ]
    return "\n".join(lines).encode()


def external_entity() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        b'<quiz><question type="essay"><name><text>&secret;</text></name>'
        b"<questiontext><text>&secret;</text></questiontext></question></quiz>"
    )


def zip_slip() -> bytes:
    """A Canvas export with one more member that would land outside the folder it unpacks to."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, zipfile.ZipFile(io.BytesIO(canvas_zip())) as good:
        for info in good.infolist():
            archive.writestr(info.filename, good.read(info))
        archive.writestr("../../outside.txt", b"written outside")
    return buffer.getvalue()


def fifty_megabytes() -> bytes:
    return b"// GIFT\n::Big:: Large? {T}\n\n" + b"// padding\n" * (50 * 1024 * 1024 // 11)
