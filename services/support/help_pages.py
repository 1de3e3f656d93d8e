"""Help pages: Markdown files kept in the repository (``services/support/help/*.md``), each
with a small header (title, audience, summary), rendered by ``content.markdown`` and searched
in memory (there are a few dozen at most; they are read once per process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from coursehub.services.content.markdown import to_safe_html

HELP_DIR = Path(__file__).parent / "help"
AUDIENCES = {"everyone": "Everyone", "students": "Students", "instructors": "Instructors"}
_HEADER = re.compile(r"\A---\n(?P<header>.*?)\n---\n", re.S)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class HelpPage:
    slug: str
    title: str
    audience: str
    summary: str
    markdown: str

    @property
    def html(self) -> str:
        return _html(self.slug)

    @property
    def plain(self) -> str:
        return f"{self.title}\n{self.summary}\n{self.markdown}"


@dataclass(frozen=True)
class SearchHit:
    page: HelpPage
    score: int
    excerpt: str


def read_page(path: Path) -> HelpPage:
    text = path.read_text(encoding="utf-8")
    match = _HEADER.match(text)
    header: dict[str, str] = {}
    if match:
        for line in match.group("header").splitlines():
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
        text = text[match.end() :]
    audience = header.get("audience", "everyone")
    return HelpPage(
        slug=path.stem,
        title=header.get("title", path.stem.replace("-", " ").capitalize()),
        audience=audience if audience in AUDIENCES else "everyone",
        summary=header.get("summary", ""),
        markdown=text,
    )


@cache
def pages() -> tuple[HelpPage, ...]:
    order = {"everyone": 0, "students": 1, "instructors": 2}
    found = [read_page(path) for path in sorted(HELP_DIR.glob("*.md"))]
    return tuple(sorted(found, key=lambda page: (order[page.audience], page.title)))


def page(slug: str) -> HelpPage | None:
    return next((found for found in pages() if found.slug == slug), None)


@cache
def _html(slug: str) -> str:
    found = page(slug)
    return to_safe_html(found.markdown) if found else ""


def search(query: str, limit: int = 20) -> list[SearchHit]:
    """Pages holding every word of ``query`` (case-insensitive, words may be prefixes),
    best first: a word in the title counts most, then the summary, then each occurrence."""
    words = [word.lower() for word in _WORD.findall(query)][:10]
    if not words:
        return []
    hits = []
    for found in pages():
        title, summary, body = found.title.lower(), found.summary.lower(), found.markdown.lower()
        score = 0
        for word in words:
            pattern = re.compile(rf"\b{re.escape(word)}")
            in_body = len(pattern.findall(body))
            if not (pattern.search(title) or pattern.search(summary) or in_body):
                break
            score += 10 * bool(pattern.search(title)) + 5 * bool(pattern.search(summary)) + in_body
        else:
            hits.append(SearchHit(found, score, _excerpt(found.markdown, words[0])))
    return sorted(hits, key=lambda hit: -hit.score)[:limit]


def _excerpt(markdown: str, word: str, width: int = 160) -> str:
    plain = re.sub(r"[*_`#>\[\]]", "", markdown)
    plain = " ".join(plain.split())
    match = re.search(rf"\b{re.escape(word)}", plain, re.I)
    start = max(0, (match.start() if match else 0) - width // 2)
    text = plain[start : start + width]
    return f"{'…' if start else ''}{text}{'…' if start + width < len(plain) else ''}"
