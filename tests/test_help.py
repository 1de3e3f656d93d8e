"""Help pages: written in Markdown in the repository, rendered for everyone (signed in or
not), searchable, and linked from every page."""

from __future__ import annotations

import httpx

from coursehub.services.support import help_pages


def test_every_help_page_renders_and_the_index_lists_them_by_audience(platform):
    with httpx.Client(timeout=30) as visitor:
        index = visitor.get(f"{platform.service_url}/help")
        assert index.status_code == 200
        assert "For students" in index.text and "For instructors" in index.text
        for page in help_pages.pages():
            assert f"/help/{page.slug}" in index.text
            shown = visitor.get(f"{platform.service_url}/help/{page.slug}")
            assert shown.status_code == 200 and page.title in shown.text
            assert "<h2>" in shown.text, f"{page.slug} has no sections"
        assert visitor.get(f"{platform.service_url}/help/no-such-page").status_code == 404


def test_the_search_finds_pages_by_every_word(platform):
    with httpx.Client(timeout=30) as visitor:
        found = visitor.get(f"{platform.service_url}/help", params={"q": "late penalty"})
        assert "/help/assignments" in found.text
        nothing = visitor.get(f"{platform.service_url}/help", params={"q": "zeppelin"})
        assert "Nothing matches every word" in nothing.text
    hits = [hit.page.slug for hit in help_pages.search("Open in JupyterLab")]
    assert hits[0] == "lessons-and-jupyterlab"
    assert [hit.page.slug for hit in help_pages.search("<script>")] == []


def test_help_is_linked_from_course_pages_and_hub_pages(platform, make_account, signed_in):
    client = signed_in(make_account())
    for url in (f"{platform.service_url}/courses", f"{platform.url}/hub/home"):
        page = client.get(url)
        assert 'id="nav_help"' in page.text and "/services/coursehub/help" in page.text
        assert 'id="nav_settings"' in page.text
    with httpx.Client(timeout=30) as visitor:
        assert 'id="nav_help"' in visitor.get(f"{platform.service_url}/courses").text
