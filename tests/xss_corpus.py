"""Stored-XSS attempts for anything people write that others read (forum posts, titles,
announcements, messages), and a check that HTML sent to browsers is harmless.

``XSS_CORPUS`` is a list of ``(name, text)``: use it as a title, a markdown body, a search
query. ``assert_harmless(html)`` parses HTML as a browser would and fails on anything that
could run script or restyle the page: script-capable elements, event-handler attributes,
``style``, URLs with a scheme other than http(s)/mailto, and in ``<math>`` (formulas)
anything but presentation MathML with a few attributes and bounded lengths. Browser tests add
that no dialog fires (``page.on("dialog", ...)``); every payload that would run calls
``alert``/``confirm``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from itertools import pairwise
from string import ascii_lowercase
from urllib.parse import urlsplit

import pytest

# LaTeX macros, each twice the one before: four million x's from 400 characters.
MACRO_BOMB = (
    "$"
    + r"\def\a{{x}{x}}"
    + "".join(
        r"\def\B{{\A}{\A}}".replace("A", a).replace("B", b)
        for a, b in pairwise(ascii_lowercase[:22])
    )
    + r"\v$"
)

XSS_CORPUS: list[tuple[str, str]] = [
    ("script tag", "<script>alert('xss-script')</script>"),
    ("script in markdown", "Hello\n\n<script>alert(1)</script>\n\nbye"),
    ("uppercase script", "<SCRIPT SRC=//example.com/x.js></SCRIPT>"),
    ("img onerror", "<img src=x onerror=\"alert('xss-img')\">"),
    ("body onload", "<body onload=alert(1)>"),
    ("event handler in quotes", '<a href="https://example.com" onclick="alert(1)">click</a>'),
    ("javascript link html", '<a href="javascript:alert(1)">click me</a>'),
    ("javascript markdown link", "[click me](javascript:alert('xss-md'))"),
    ("encoded javascript link", "[click](jav&#x09;ascript:alert(1))"),
    ("javascript link with spaces", "[click]( javascript:alert(1) )"),
    ("uppercase javascript link", "[click](JaVaScRiPt:alert(1))"),
    ("vbscript link", "[click](vbscript:msgbox(1))"),
    ("data html link", "[open](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("data svg image", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("markdown image onerror", '![x" onerror="alert(1)](https://example.com/x.png)'),
    ("reference link", "[click][evil]\n\n[evil]: javascript:alert(1)"),
    ("autolink javascript", "<javascript:alert(1)>"),
    ("link title breakout", '[a](https://example.com "title\\" onmouseover=\\"alert(1)")'),
    ("svg onload", "<svg onload=alert(1)><circle r=10></circle></svg>"),
    ("svg script", "<svg><script>alert(1)</script></svg>"),
    (
        "svg animate href",
        "<svg><a><animate attributeName=href values=javascript:alert(1) />"
        "<text x=20 y=20>click</text></a></svg>",
    ),
    ("mathml href", '<math><mtext><a href="javascript:alert(1)">x</a></mtext></math>'),
    ("mathml style mglyph", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("iframe srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("iframe javascript", '<iframe src="javascript:alert(1)"></iframe>'),
    ("object data", '<object data="javascript:alert(1)"></object>'),
    ("embed", '<embed src="data:text/html,<script>alert(1)</script>">'),
    ("form action", '<form action="javascript:alert(1)"><button>go</button></form>'),
    ("input autofocus", "<input autofocus onfocus=alert(1)>"),
    ("details ontoggle", "<details open ontoggle=alert(1)>"),
    ("meta refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base href", '<base href="javascript:alert(1)//">'),
    ("unbalanced tags", "<div><p><b>bold <i>both</b> italic</div></p><img src=x onerror=alert(1)"),
    ("unclosed attribute", '<img src="x onerror=alert(1)//'),
    ("comment breakout", "<!--<img src=x onerror=alert(1)>--><!-- --><img src=x onerror=alert(1)>"),
    ("cdata", "<![CDATA[<script>alert(1)</script>]]>"),
    (
        "style tag",
        "<style>body { display: none } * { background: url(javascript:alert(1)) }</style>",
    ),
    ("style attribute", '<p style="position:fixed;top:0;left:0;width:100%;height:100%">cover</p>'),
    ("style expression", '<div style="width: expression(alert(1))">x</div>'),
    ("link stylesheet", '<link rel="stylesheet" href="https://example.com/evil.css">'),
    ("template tag", "<template><script>alert(1)</script></template>"),
    ("noscript mutation", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("code block with html", "```html\n<script>alert('in a code block')</script>\n```"),
    ("inline code with html", "`<img src=x onerror=alert(1)>`"),
    ("math with html", "$<img src=x onerror=alert(1)>$ and $$x<y>z$$"),
    ("null byte", "<scr\x00ipt>alert(1)</script>"),
    ("jinja braces", "{{ 7*7 }} {% raw %}{{ config }}{% endraw %}"),
    (
        "entity encoded",
        "&lt;script&gt;alert(1)&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62;",
    ),
    # Formulas become MathML (services content.markdown): HTML, links, styles and namespace
    # tricks written inside LaTeX, and LaTeX that would take the server minutes to expand.
    ("latex text with html", r"$\text{<img/src=x/onerror=alert(1)>}$ and $\text{</math><b>}$"),
    (
        "latex leaving math",
        "$$\n\\text{</mtext></math><style><img src=x onerror=alert(1)>}\n$$",
    ),
    ("latex href", r"$\href{javascript:alert(1)}{click}$ $$\href{data:text/html,x}{y}$$"),
    (
        "latex style class color",
        r"$\style{position:fixed;inset:0}{x}\class{btn}{y}\color{white}{z}\Huge{\Huge{w}}$",
    ),
    ("latex huge space", r"$\hspace{10000em}\rule{5000em}{5000em}\kern-9999em x$"),
    ("latex macro bomb", MACRO_BOMB),
    (
        "mathml mi style",
        "<math><mi><style><img src=x onerror=alert(1)></style></mi></math> $<math><mi><style>$",
    ),
    (
        "mathml annotation maction",
        '<math><semantics><annotation-xml encoding="text/html"><img src=x onerror=alert(1)>'
        '</annotation-xml></semantics><maction actiontype="toggle"><mi>x</mi></maction></math>',
    ),
]

PAYLOADS = [text for _, text in XSS_CORPUS]
IDS = [name for name, _ in XSS_CORPUS]

# Elements that can run script, load active content, submit or restyle the page.
FORBIDDEN_TAGS = {
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "svg",
    "link",
    "meta",
    "base",
    "template",
    "noscript",
    "details",
    "animate",
    "set",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcset", "poster"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}
# Formulas are MathML: inside <math> only presentation elements with these attributes, so
# nothing there holds HTML (annotation-xml, tags in mtext), links (href) or actions (maction),
# and no length (a space, a shift) is big enough to cover or push away the page.
MATHML_TAGS = {
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
MATHML_KEYWORD_ATTRIBUTES = {
    "display",
    "mathvariant",
    "displaystyle",
    "scriptlevel",
    "form",
    "stretchy",
    "fence",
    "separator",
    "largeop",
    "movablelimits",
    "symmetric",
    "accent",
    "accentunder",
    "columnalign",
}
MATHML_LENGTH_ATTRIBUTES = {
    "width",
    "height",
    "depth",
    "lspace",
    "rspace",
    "voffset",
    "minsize",
    "maxsize",
    "linethickness",
}
EMS = {"": 1, "em": 1, "ex": 0.5, "mu": 1 / 18, "px": 1 / 16, "pt": 1 / 12, "mm": 0.24, "cm": 2.4}
LENGTH = re.compile(r"[+-]?(\d+(?:\.\d*)?|\.\d+)(em|ex|mu|px|pt|mm|cm)?")
MAX_EMS = 20


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open_math = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        self.open_math += tag == "math"

    def handle_endtag(self, tag: str) -> None:
        if tag == "math" and self.open_math:
            self.open_math -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.open_math or tag == "math":
            self.inspect_mathml(tag, attrs)
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            elif name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            elif name in URL_ATTRIBUTES and value is not None:
                cleaned = "".join(ch for ch in value if ch > " ").lower()
                scheme = urlsplit(cleaned).scheme if ":" in cleaned.split("/", 1)[0] else ""
                if scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    def inspect_mathml(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MATHML_TAGS:
            self.problems.append(f"<{tag}> inside <math>")
        for name, value in attrs:
            if name in MATHML_LENGTH_ATTRIBUTES:
                length = LENGTH.fullmatch(value or "")
                if not length or float(length[1]) * EMS[length[2] or ""] > MAX_EMS:
                    self.problems.append(f"{name}={value!r} on <{tag}>")
            elif name not in MATHML_KEYWORD_ATTRIBUTES:
                self.problems.append(f"{name} attribute on MathML <{tag}>")


def problems_in(html: str) -> list[str]:
    """What in ``html`` could run script or restyle the page (empty when harmless)."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems


def assert_harmless(html: str) -> None:
    found = problems_in(html)
    assert not found, f"unsafe HTML ({'; '.join(found)}): {html[:500]}"


def corpus_params() -> list[object]:
    """``XSS_CORPUS`` as pytest parameters with readable ids."""
    return [pytest.param(text, id=name) for name, text in XSS_CORPUS]
