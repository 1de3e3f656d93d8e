"""A course's picture on cards and pages: the thumbnail its instructor uploaded (checked and
served by ``coursehub.services.content.uploads``), or else a picture made here: the course's
initials on a colour chosen from its category (or its own short name), drawn as SVG by the
service itself, so every course has a picture and nothing is fetched from elsewhere."""

from __future__ import annotations

import hashlib
from html import escape

# Cards show pictures at 16:9; width and height on the <img> keep the card's size while it loads.
WIDTH, HEIGHT = 640, 360
# Background colours with white text at 4.5:1 contrast or better.
COLOURS = (
    "#1d4ed8",
    "#047857",
    "#b91c1c",
    "#7c3aed",
    "#b45309",
    "#0e7490",
    "#be185d",
    "#4d7c0f",
    "#334155",
    "#9a3412",
)
_SMALL_WORDS = frozenset({"a", "an", "and", "the", "of", "to", "in", "for", "on", "with"})


def picture_url(prefix: str, slug: str, thumbnail_upload_id: int | None) -> str:
    """Where a course's picture is: its uploaded thumbnail, or its made one."""
    if thumbnail_upload_id:
        return f"{prefix}/media/{thumbnail_upload_id}"
    return f"{prefix}/courses/{slug}/picture.svg"


def initials(title: str) -> str:
    """Up to two letters from the title's first words that matter ("Intro to Python" → IP)."""
    words = [word for word in title.split() if word[:1].isalnum()]
    wanted = [word for word in words if word.lower() not in _SMALL_WORDS] or words
    letters = "".join(word[0] for word in wanted[:2]).upper()
    return letters or "C"


def colour_for(key: str) -> str:
    """A colour that stays the same for one category (or course) on every page."""
    digest = hashlib.sha256(key.encode()).digest()
    return COLOURS[digest[0] % len(COLOURS)]


def made_picture(title: str, colour_key: str) -> str:
    """The SVG of a course without an uploaded thumbnail."""
    colour = colour_for(colour_key)
    letters = escape(initials(title))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{colour}"/>'
        f'<circle cx="{WIDTH - 70}" cy="70" r="150" fill="#ffffff" fill-opacity="0.08"/>'
        f'<circle cx="60" cy="{HEIGHT - 30}" r="110" fill="#000000" fill-opacity="0.08"/>'
        f'<text x="50%" y="50%" dy="0.35em" text-anchor="middle" fill="#ffffff" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" '
        f'font-size="150" font-weight="700">{letters}</text></svg>'
    )
