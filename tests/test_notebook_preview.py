"""``content.notebook_preview``: a kept notebook shown as a student would read it, as one
static page with no script at all: what the author wrote looks as in JupyterLab (headings,
code, outputs), and whatever could run (scripts, event handlers, ``javascript:`` links,
frames, forms) is dropped, from markdown and from outputs alike."""

from __future__ import annotations

import nbformat
import pytest

from coursehub.services.content.notebook_preview import (
    CONTENT_SECURITY_POLICY,
    render_html,
    render_html_off_loop,
)


def notebook() -> dict:  # type: ignore[type-arg]
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell(
            "# Cell division\n\nRead [this](javascript:alert(1)) and [that](https://example.org)."
            "\n\n<script>alert('md')</script><iframe src='https://evil.example'></iframe>"
        ),
        nbformat.v4.new_code_cell(
            "print('mitosis')",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="mitosis\n"),
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "text/html": "<b>bold</b><img src=x onerror=alert(2)>"
                        "<form action='/steal'><input name=p></form>"
                    },
                ),
            ],
        ),
    ]
    return dict(book)


def test_a_notebook_reads_as_in_jupyterlab_with_nothing_that_could_run():
    page = render_html(notebook())
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "Cell division" in page and "mitosis" in page and "<b>bold</b>" in page
    assert 'href="https://example.org"' in page
    assert page.count("<main>") == 1 and page.count("</main>") == 1
    assert "<script" not in page.lower()  # not even the page around the cells loads one
    cells = page.partition("<main>")[2].partition("</main>")[0].lower()
    for gone in ("javascript:", "onerror", "<iframe", "<form", "alert('md')"):
        assert gone not in cells, gone


def test_the_page_is_served_sandboxed_and_loads_no_script():
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";")[:-1])
    assert policy["default-src"] == "'none'" and "script-src" not in policy
    assert CONTENT_SECURITY_POLICY.rstrip().endswith("sandbox")


@pytest.mark.parametrize("cells", [0, 1])
async def test_rendering_off_the_event_loop_gives_the_same_page(cells):
    book = notebook()
    book["cells"] = book["cells"][:cells]
    assert await render_html_off_loop(book) == render_html(book)
