"""A certificate's PDF: an HTML/CSS template rendered by WeasyPrint (A4 or Letter, PDF/A-3b),
with a QR code (segno) of the verification page.

Templates are Jinja in a sandbox and may use only ``FIELDS``; an instructor's template that
names another field is refused with the list. Nothing is fetched from elsewhere while
rendering: the URL fetcher hands over only data embedded in the page (``data:`` URLs, such as
the QR code and the signature image) and refuses every other address, and a template that
asks for one is refused when uploaded.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from coursehub.services.errors import Refusal

log = logging.getLogger("coursehub.certificates")

DEFAULT_TEMPLATE = (Path(__file__).parent / "certificate_default.html").read_text("utf-8")
PAGE_SIZES = ("A4", "Letter")
MAX_TEMPLATE_BYTES = 200_000
BRAND_COLOR = "#1f5fa8"
PDF_VARIANT = "pdf/a-3b"

# The documented fields a template may use (README, "Certificates").
FIELDS: dict[str, str] = {
    "title": "the certificate's title, from the course's rule",
    "holder_name": "the student's name as on their account",
    "course_title": "the course's title",
    "issued_on": "the day it was issued, e.g. 7 December 2026",
    "grade": "the weighted grade, e.g. 87 %, when the student chose to show it; else empty",
    "signatory_name": "the signatory's name",
    "signatory_title": "the signatory's title",
    "signature_image": "the uploaded signature as a data: URL (empty when none)",
    "qr_code": "a QR code of the verification page as a data: URL",
    "verify_url": "the public verification page",
    "certificate_id": "the certificate's permanent id",
    "page_size": "A4 or Letter, for @page { size: … }",
    "brand_color": "CourseHub's colour for the course",
}


class CertificateError(Refusal):
    """A refusal about certificates; the message says what to do instead."""


class RemoteFetchRefused(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


try:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    PDF_PROBLEM: str | None = None
except OSError as error:  # WeasyPrint loads Pango with ffi; a machine may lack it
    weasyprint = None  # type: ignore[assignment]
    URLFetcher = object  # type: ignore[assignment,misc]
    PDF_PROBLEM = (
        "Certificate PDFs cannot be made on this machine: WeasyPrint could not load the Pango "
        f"text library ({str(error).splitlines()[0]}). Install Pango (libpango-1.0-0)."
    )


# Names in any script: DejaVu Sans (the machine's) has Latin, Greek, Cyrillic, Arabic and
# Hebrew; Chinese (and Japanese kana) come from the bundled Noto Sans SC subset (fonts/,
# SIL OFL 1.1, see fonts/README.md), which Pango falls back to whatever family a template
# names. Scripts neither covers (Korean hangul, Devanagari, Thai...) need the machine's
# fonts (e.g. Debian's fonts-noto-core, fonts-noto-cjk); README "Certificates" says so.
FONTS_DIR = Path(__file__).parent / "fonts"
BUNDLED_FONTS = {
    "normal": FONTS_DIR / "NotoSansSC-Regular-gb2312.woff",
    "bold": FONTS_DIR / "NotoSansSC-Bold-gb2312.woff",
}
BUNDLED_FONT_URLS = frozenset(path.resolve().as_uri() for path in BUNDLED_FONTS.values())
FONT_FACES = "".join(
    f'@font-face {{ font-family: "Noto Sans SC"; font-weight: {weight}; '
    f'src: url("{path.resolve().as_uri()}") format("woff"); }}\n'
    for weight, path in BUNDLED_FONTS.items()
)


class EmbeddedOnly(URLFetcher):  # type: ignore[misc,valid-type]
    """WeasyPrint's URL fetcher for certificates: data: URLs and CourseHub's bundled fonts
    only, never the network or any other file; the addresses refused are kept so the render
    can be refused as a whole."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data", "file"})
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:") and url not in BUNDLED_FONT_URLS:
            self.refused.append(url)
            raise RemoteFetchRefused(url)
        return super().fetch(url, headers)


_FONTS = threading.local()


def _font_config() -> Any:
    """One font configuration per thread, kept: loading the machine's fonts again for each
    certificate costs a fifth of its time."""
    if not hasattr(_FONTS, "config"):
        _FONTS.config = FontConfiguration()
    return _FONTS.config


_ENV = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def check_template(source: str) -> None:
    """Refuse a template that is too large, not Jinja, or names an undocumented field."""
    if len(source.encode()) > MAX_TEMPLATE_BYTES:
        raise CertificateError(
            f"A certificate template may have at most {MAX_TEMPLATE_BYTES:,} bytes.", 413
        )
    try:
        named = meta.find_undeclared_variables(_ENV.parse(source))
    except TemplateSyntaxError as error:
        raise CertificateError(
            f"The template is not valid: {error.message} (line {error.lineno})."
        ) from None
    unknown = sorted(named - FIELDS.keys())
    if unknown:
        raise CertificateError(
            f"The template uses fields CourseHub does not know: {', '.join(unknown)}. "
            f"The fields are: {', '.join(FIELDS)}."
        )


@dataclass(frozen=True)
class CertificateFace:
    """What one certificate shows."""

    certificate_id: str
    title: str
    holder_name: str
    course_title: str
    issued_on: str
    grade: str
    signatory_name: str
    signatory_title: str
    signature_png: bytes | None
    verify_url: str
    page_size: str = "A4"
    keywords: str = ""


def _fields(face: CertificateFace) -> dict[str, Any]:
    signature = (
        "data:image/png;base64," + base64.b64encode(face.signature_png).decode()
        if face.signature_png
        else ""
    )
    return {
        "title": face.title,
        "holder_name": face.holder_name,
        "course_title": face.course_title,
        "issued_on": face.issued_on,
        "grade": face.grade,
        "signatory_name": face.signatory_name,
        "signatory_title": face.signatory_title,
        "signature_image": signature,
        # PNG: WeasyPrint draws it faster than the SVG of the same code.
        "qr_code": segno.make(face.verify_url, error="m").png_data_uri(scale=4),
        "verify_url": face.verify_url,
        "certificate_id": face.certificate_id,
        "page_size": face.page_size if face.page_size in PAGE_SIZES else "A4",
        "brand_color": BRAND_COLOR,
    }


def page_html(face: CertificateFace, template: str | None = None) -> str:
    html = _ENV.from_string(template or DEFAULT_TEMPLATE).render(**_fields(face))
    if face.keywords:  # the id and tag verification reads back from the PDF
        meta_tag = f'<meta name="keywords" content="{face.keywords}">'
        html = (
            html.replace("<head>", "<head>" + meta_tag, 1) if "<head>" in html else meta_tag + html
        )
    return html


def render_pdf(face: CertificateFace, template: str | None = None) -> bytes:
    """The certificate as a PDF/A-3b document; CertificateError with a sentence when it
    cannot be made (no Pango, or a template that asks for a remote file)."""
    if weasyprint is None:
        raise CertificateError(PDF_PROBLEM or "Certificate PDFs cannot be made here.", 503)
    fetcher, fonts = EmbeddedOnly(), _font_config()
    document = weasyprint.HTML(string=page_html(face, template), url_fetcher=fetcher)
    faces = weasyprint.CSS(string=FONT_FACES, url_fetcher=fetcher, font_config=fonts)
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT, font_config=fonts, stylesheets=[faces])
    refused = fetcher.refused
    if refused:
        raise CertificateError(
            "Certificate templates may not load anything from elsewhere; this one asks for "
            f"{refused[0][:200]}. Embed images as data: URLs instead."
        )
    return bytes(pdf)


SAMPLE = CertificateFace(
    certificate_id="sample",
    title="Certificate of Completion",
    holder_name="Zoë Ångström-Łukasiewicz",
    course_title="Sample course",
    issued_on="7 December 2026",
    grade="92 %",
    signatory_name="Ada Lovelace",
    signatory_title="Instructor",
    signature_png=None,
    verify_url="https://coursehub.example/verify/sample",
)
