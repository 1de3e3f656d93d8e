"""Questions' HTML (Moodle, Canvas) as CourseHub's markdown, and markdown back as HTML for an
export. HTML is first cut down by nh3 to text, emphasis, lists, tables, links and images;
images stay only when they are files that came with the question."""

from __future__ import annotations

import re
from collections.abc import Callable

import nh3
from markdownify import MarkdownConverter

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.quizzes.question_formats.incoming import IMAGE_SCHEME

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "del",
    "s", "sub", "sup", "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody",
    "tr", "th", "td", "a", "img", "span", "div",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
OWN_IMAGE = re.compile(rf"{re.escape(SERVICE_PREFIX)}/media/(\d+)")


class _Converter(MarkdownConverter):
    def convert_img(self, el, text, parent_tags):  # type: ignore[no-untyped-def]
        if not str(el.attrs.get("src", "")).startswith(IMAGE_SCHEME):
            return str(el.attrs.get("alt") or "")
        return super().convert_img(el, text, parent_tags)


def html_to_markdown(html: str, image_key: Callable[[str], str | None]) -> str:
    """``html`` as markdown. ``image_key`` names the question's file an ``<img src>`` shows
    (None: not one of its files, and the image becomes its description)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            key = image_key(value.strip())
            return f"{IMAGE_SCHEME}{key}" if key else None
        return value

    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", IMAGE_SCHEME.rstrip(":")},
        link_rel=None,
    )
    markdown = _Converter(
        heading_style="ATX", bullets="-", keep_inline_images_in=["td", "th", "li", "a"]
    ).convert(clean)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def markdown_to_html(markdown: str, image_src: Callable[[int], str | None]) -> str:
    """CourseHub's markdown as safe HTML for another LMS; each CourseHub image's address
    becomes ``image_src(upload id)`` (the file's place in the export)."""
    html = to_safe_html(markdown, math=False)

    def swap(match: re.Match[str]) -> str:
        return image_src(int(match.group(1))) or match.group(0)

    return OWN_IMAGE.sub(swap, html).strip()
