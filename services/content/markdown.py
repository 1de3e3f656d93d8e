"""Markdown written by people, turned into HTML that is safe to show to anyone else.

Formulas are LaTeX between dollars: ``$\\pi r^2$`` in a sentence, ``$$\\sum_i x_i$$`` set off
(inside a paragraph or on lines of its own). ``latex2mathml`` turns each into MathML, which
browsers draw themselves: no script, nothing fetched. A dollar next to a space or a digit
does not open or close a formula, so "it costs $5 and $10" stays prose. A formula that cannot
be read, is longer than ``MAX_FORMULA_CHARS``, defines macros, or comes after a text's
allowance (``MAX_FORMULAS``, ``MAX_MATH_CHARS``) is shown as its source in
``<code class="math-error">``; rendering never raises and stays fast for any input.

Everything then goes through one nh3 allowlist: HTML for markdown, and MathML Core
presentation elements with few attributes (lengths bounded), never one that can hold HTML,
links or actions (``semantics``, ``annotation``, ``annotation-xml``, ``maction``,
``mglyph``). Raw HTML in markdown is escaped, so every ``<math>`` in the result was made here.
Images show only files uploaded to CourseHub (``/services/coursehub/media/<id>``): an image
from elsewhere would tell its server who read the page and when (a tracking pixel), so its
address is dropped and the browser shows its description instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, tostring

import nh3
from latex2mathml import commands as latex_commands
from latex2mathml.converter import Converter
from latex2mathml.tokenizer import tokenize
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

from coursehub.hub.constants import SERVICE_PREFIX

# One formula's LaTeX; latex2mathml takes about 20 µs a character.
MAX_FORMULA_CHARS = 2_000
# What one text may spend on formulas (about 0.2 s at most); later ones show their source.
MAX_FORMULAS = 500
MAX_MATH_CHARS = 10_000
# Nested MathML elements in one formula. Browsers cap DOM depth (Chromium at 512) and
# re-parent deeper elements, which a sanitiser's parser does not do: keep far below.
MAX_MATH_DEPTH = 64
# Elements in one formula: real ones have about one for every two characters of LaTeX.
MAX_MATH_ELEMENTS = 2_500
# \def and friends expand macros inside macros: 250 characters can make megabytes.
_MACRO_DEFINITIONS = {
    latex_commands.DEF,
    latex_commands.NEWCOMMAND,
    latex_commands.NEWENVIRONMENT,
    latex_commands.DECLAREMATHOPERATOR,
}

_HTML_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}
_HTML_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}}

_MATHML_TAGS = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msup",
    "msub",
    "msubsup",
    "mfrac",
    "msqrt",
    "mroot",
    "mover",
    "munder",
    "munderover",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "mphantom",
    "merror",
}
# Lengths, checked by _bounded_length: a formula must not cover or push away the page.
_LENGTH_ATTRIBUTES = {
    "mspace": {"width", "height", "depth"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
    "mo": {"lspace", "rspace", "minsize", "maxsize"},
    "mfrac": {"linethickness"},
}
_BOOLEAN = {"true", "false"}
_MATHVARIANTS = {
    "normal",
    "bold",
    "italic",
    "bold-italic",
    "double-struck",
    "fraktur",
    "bold-fraktur",
    "script",
    "bold-script",
    "sans-serif",
    "bold-sans-serif",
    "sans-serif-italic",
    "sans-serif-bold-italic",
    "monospace",
}
_ALIGN = {"left", "center", "right"}
# Keyword attributes, each limited to its values (no mathsize, mathcolor, style, href, ...).
_MATHML_VALUES = {
    "math": {"display": {"block", "inline"}},
    "mstyle": {"displaystyle": _BOOLEAN, "scriptlevel": {"0", "1", "2"}},
    "mtable": {"displaystyle": _BOOLEAN},
    "mtd": {"columnalign": _ALIGN},
    "mi": {"mathvariant": _MATHVARIANTS},
    "mn": {"mathvariant": _MATHVARIANTS},
    "mtext": {"mathvariant": _MATHVARIANTS},
    "mo": {
        "form": {"prefix", "infix", "postfix"},
        "stretchy": _BOOLEAN,
        "fence": _BOOLEAN,
        "separator": _BOOLEAN,
        "largeop": _BOOLEAN,
        "movablelimits": _BOOLEAN,
        "symmetric": _BOOLEAN,
        "accent": _BOOLEAN,
    },
    "mover": {"accent": _BOOLEAN},
    "munder": {"accentunder": _BOOLEAN},
    "munderover": {"accent": _BOOLEAN, "accentunder": _BOOLEAN},
}
_LENGTH = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(em|ex|mu|px|pt|mm|cm|in)?")
_EMS_PER_UNIT = {
    None: 1.0,
    "em": 1.0,
    "ex": 0.5,
    "mu": 1 / 18,
    "px": 1 / 16,
    "pt": 1 / 12,
    "mm": 96 / 25.4 / 16,
    "cm": 96 / 2.54 / 16,
    "in": 6.0,
}
MAX_LENGTH_EMS = 10.0


# The only images a text may show: CourseHub's own uploads.
_OWN_IMAGE = re.compile(rf"{re.escape(SERVICE_PREFIX)}/media/\d+")


def _bounded_length(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: MathML lengths of at most ``MAX_LENGTH_EMS``, images from
    CourseHub's uploads only, others as they are."""
    if tag == "img" and attribute == "src":
        return value if _OWN_IMAGE.fullmatch(value.strip()) else None
    if attribute not in _LENGTH_ATTRIBUTES.get(tag, ()):
        return value
    match = _LENGTH.fullmatch(value.strip())
    if match is None:
        return None
    number, unit = match.groups()
    return value if abs(float(number)) * _EMS_PER_UNIT[unit] <= MAX_LENGTH_EMS else None


_sanitiser = nh3.Cleaner(
    tags=_HTML_TAGS | _MATHML_TAGS,
    attributes=_HTML_ATTRIBUTES | _LENGTH_ATTRIBUTES,
    attribute_filter=_bounded_length,
    tag_attribute_values=_MATHML_VALUES,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)


def latex_to_mathml(latex: str, *, display: bool = False) -> str | None:
    """``latex`` as a ``<math>`` element (unsanitised), or None when it cannot or may not be."""
    if not latex.strip() or len(latex) > MAX_FORMULA_CHARS:
        return None
    try:
        if _MACRO_DEFINITIONS.intersection(tokenize(latex)):
            return None
        # A fresh converter each time: one keeps the macros of what it converted before.
        math = Converter(display="block" if display else "inline").convert_to_element(latex)
    except Exception:  # IndexError, RecursionError and latex2mathml's own errors: not LaTeX
        return None
    if not _decode_within_limits(math):
        return None
    return tostring(math, encoding="unicode")


_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX][0-9a-fA-F]+|[0-9]+);")


def _character(reference: re.Match[str]) -> str:
    return html.unescape(reference.group())  # U+FFFD for NUL, surrogates, out of range


def _decode_within_limits(math: Element) -> bool:
    """Turn latex2mathml's character references into characters, in place; False when the
    formula is nested deeper than ``MAX_MATH_DEPTH`` or has more than ``MAX_MATH_ELEMENTS``.

    latex2mathml writes symbols as ``&#x003C0;`` and un-escapes its whole output to make
    them work, which would also turn ``\\text{<img/src/onerror=...>}`` into a tag. Decoding
    only references in text, then letting ElementTree escape it, keeps what people typed text.
    """
    math.attrib.pop("xmlns", None)
    pending = [(math, 1)]
    elements = 0
    while pending:
        element, depth = pending.pop()
        elements += 1
        if depth > MAX_MATH_DEPTH or elements > MAX_MATH_ELEMENTS:
            return False
        if element.text:
            element.text = _CHARACTER_REFERENCE.sub(_character, element.text)
        if element.tail:
            element.tail = _CHARACTER_REFERENCE.sub(_character, element.tail)
        pending.extend((child, depth + 1) for child in element)
    return True


@dataclass
class _MathAllowance:
    """How much more math one text may have rendered (kept in markdown-it's ``env``)."""

    formulas: int = MAX_FORMULAS
    chars: int = MAX_MATH_CHARS

    def spend(self, latex: str) -> bool:
        if self.formulas < 1 or len(latex) > self.chars:
            return False
        self.formulas -= 1
        self.chars -= len(latex)
        return True


def _render_formula(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    """markdown-it render rule for ``math_inline``, ``math_inline_double`` and ``math_block``."""
    token = tokens[idx]
    block = token.type == "math_block"
    latex = token.content.strip()
    allowance = env.setdefault("math_allowance", _MathAllowance())
    mathml = None
    if len(latex) <= MAX_FORMULA_CHARS and allowance.spend(latex):
        mathml = latex_to_mathml(latex, display=token.type != "math_inline")
    if mathml is not None:
        return mathml + "\n" if block else mathml
    source = escapeHtml(f"{token.markup}{token.content}{token.markup}")
    if block:
        return f'<pre><code class="math-error">{source}</code></pre>\n'
    return f'<code class="math-error">{source}</code>'


def _markdown(*, math: bool) -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    if math:
        dollarmath_plugin(
            parser,
            allow_labels=False,
            allow_space=False,  # "$5 and $10": a formula neither starts nor ends with a space
            allow_digits=False,  # "5$ or $5,$10": nor has a digit just outside its dollars
            allow_blank_lines=False,  # an unclosed $$ ends at the paragraph, not the text
            double_inline=True,
        )
        for kind in ("math_inline", "math_inline_double", "math_block"):
            parser.add_render_rule(kind, _render_formula)
    return parser


_with_math = _markdown(math=True)
_without_math = _markdown(math=False)


def to_safe_html(text: str, *, math: bool = True) -> str:
    """Render ``text`` as markdown, then keep only harmless tags and attributes.

    ``math=False`` leaves ``$...$`` as typed, for plain-text uses such as previews.
    """
    parser = _with_math if math else _without_math
    return _sanitiser.clean(parser.render(text, {"math_allowance": _MathAllowance()}))
