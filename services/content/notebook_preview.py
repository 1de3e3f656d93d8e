"""A kept notebook version as a student would read it: static HTML, never a kernel.

nbconvert's HTML exporter renders the notebook with a template that loads no script at all
(the stock one pulls require.js, MathJax and Mermaid from a CDN); then everything between
``<main>`` and ``</main>`` (the cells, where the notebook's author had a say) is cleaned with
nh3, keeping ordinary HTML and dropping scripts, styles, frames, forms, event handlers and
``javascript:`` links. (nbconvert's own ``sanitize_html`` escapes headings and paragraphs, so
a notebook would not look as it does to students.) The page that serves the result adds a
Content-Security-Policy with ``sandbox`` and the instructor's page shows it in a sandboxed
iframe, so notebook HTML never runs with the service's origin.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import nh3

# The page around the cells: the stock JupyterLab look, minus every <script> the stock
# template adds. It holds nothing from the notebook, so it is made once.
_PAGE_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
# The cells alone, which are cleaned as one fragment; nothing in them can close the page's
# <main> early, since the cleaner re-serialises the fragment.
_CELLS_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block header -%}{%- endblock header -%}
{%- block body_header -%}{%- endblock body_header -%}
{%- block body_footer -%}{%- endblock body_footer -%}
{%- block footer -%}{%- endblock footer -%}
"""
_TEMPLATES = {"coursehub_page.html.j2": _PAGE_TEMPLATE, "coursehub_cells.html.j2": _CELLS_TEMPLATE}

# What the rendered page may load: its own inline styles, and images inside the notebook or
# from the web (as in JupyterLab). No script, no form, no plugin, no navigation of the parent.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)


_CELL_TAGS = nh3.ALLOWED_TAGS | {"input", "label"}
_CELL_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "id", "title", "lang", "dir", "data-mime-type", "tabindex"},
    "a": {"href", "hreflang", "title"},
    "input": {"type", "checked", "disabled"},
}


def _clean_cells(html: str) -> str:
    return nh3.clean(
        html,
        tags=_CELL_TAGS,
        attributes=_CELL_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )


def _exporter(template_file: str) -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader(_TEMPLATES)],
        template_file=template_file,
        # Never read files named by the notebook's markdown from the server's disk.
        embed_images=False,
        exclude_anchor_links=True,
    )


@functools.cache
def _page_around_cells() -> tuple[str, str]:
    import nbformat

    empty = nbformat.v4.new_notebook()
    page, _ = _exporter("coursehub_page.html.j2").from_notebook_node(
        empty, resources={"metadata": {"name": "Notebook preview"}}
    )
    head, opened, rest = page.partition("<main>")
    _, closed, tail = rest.rpartition("</main>")
    if not (opened and closed):
        raise RuntimeError("The notebook preview template lost its <main> element.")
    return f"{head}<main>", f"</main>{tail}"


def render_html(notebook: dict[str, Any]) -> str:
    """The notebook as one self-contained, script-free HTML page."""
    import nbformat

    # Through nbformat's reader, which joins the line lists of the stored JSON.
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    cells, _ = _exporter("coursehub_cells.html.j2").from_notebook_node(
        node, resources={"metadata": {"name": "Notebook preview"}}
    )
    before, after = _page_around_cells()
    return f"{before}{_clean_cells(cells)}{after}"


async def render_html_off_loop(notebook: dict[str, Any]) -> str:
    """``render_html`` in a worker thread: large notebooks take a while to convert."""
    return await asyncio.to_thread(render_html, notebook)
