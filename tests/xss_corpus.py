"""Stored-XSS attempts for anything people write that others read (forum posts, titles,
announcements, messages), and a check that HTML sent to browsers is harmless.

``XSS_CORPUS`` is a list of ``(name, text)``: use it as a title, a markdown body, a search
query. ``assert_harmless(html)`` parses HTML as a browser would and fails on anything that
could run script or restyle the page: script-capable elements, event-handler attributes,
``style``, and URLs with a scheme other than http(s)/mailto. Browser tests add that no dialog
fires (``page.on("dialog", ...)``); every payload that would run calls ``alert``/``confirm``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

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
    "math",
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


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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

    handle_startendtag = handle_starttag


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
