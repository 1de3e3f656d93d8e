"""The site's logo, uploaded by an administrator in Chromium: files that are not PNG or JPEG
by their bytes (whatever their names say), cut short, or too large are refused with a
sentence and change nothing; a PNG appears in the navigation of the course pages and of the
hub's pages, served with caching headers; the change is in the audit log; removing it brings
CourseHub's own mark back. Only administrators may change it."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, AuditEntry, SiteImage
from coursehub.services.site_settings.site_logo import MAX_LOGO_BYTES
from tests.player_data import sign_in, xsrf_headers

pytestmark = pytest.mark.browser


def image_bytes(kind: str, size: tuple[int, int] = (96, 32), colour: str = "#d62828") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        # A PNG by name only: text inside.
        "text.png": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>",
        "cut.png": image_bytes("PNG")[:60],
        "cut.jpg": image_bytes("JPEG", (200, 200))[:-200],
        "webp.png": image_bytes("WEBP"),
        "huge.png": image_bytes("PNG") + b"\0" * MAX_LOGO_BYTES,
        "logo.png": image_bytes("PNG"),
        # A JPEG whose name says PNG: its bytes decide.
        "photo.png": image_bytes("JPEG", (40, 40), "#2a9d8f"),
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


@pytest.fixture
def admin(make_account, db) -> Iterator[Account]:  # type: ignore[no-untyped-def]
    account = make_account(Role.ADMIN)
    yield account
    with db() as session:  # the platform is shared: CourseHub's mark again for later tests
        logo = session.get(SiteImage, "logo")
        if logo is not None:
            session.delete(logo)
            session.commit()


def logo_width(page: Page) -> int:
    """The navigation's logo as the browser decoded it (0: it did not load)."""
    logo = page.locator("#platform_logo")
    logo.evaluate("img => img.complete || new Promise(done => img.onload = img.onerror = done)")
    return int(logo.evaluate("img => img.naturalWidth"))


def upload(page: Page, file: Path) -> None:
    page.locator("#setting_logo").set_input_files(str(file))
    with page.expect_navigation():
        page.locator("#logo_upload").click()


def logo_entries(db, admin: Account) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "settings.logo", AuditEntry.actor_id == admin.id)
                .order_by(AuditEntry.id)
            )
        )


def test_an_admin_uploads_a_logo_that_every_page_shows_then_removes_it(
    platform, admin, files, page, db
):  # type: ignore[no-untyped-def]
    settings = f"{platform.service_url}/admin/settings"
    sign_in(page, platform, admin.email)
    page.goto(settings)
    expect(page.locator("#platform_logo")).to_have_attribute(
        "src", f"{platform_prefix()}?v=default"
    )
    default_width = logo_width(page)
    assert default_width > 0  # CourseHub's own mark

    for name, says in (
        ("text.png", "must be a PNG or JPEG"),
        ("logo.svg", "must be a PNG or JPEG"),
        ("webp.png", "must be a PNG or JPEG"),
        ("cut.png", "cannot be read"),
        ("cut.jpg", "cannot be read"),
        ("huge.png", "at most 1 MB"),
    ):
        upload(page, files[name])
        expect(page.locator("#settings_problem")).to_contain_text(says)
        expect(page.locator("#setting_logo")).to_have_class("form-control is-invalid")
        assert page.locator("#platform_logo").get_attribute("src").endswith("v=default"), name
    assert logo_entries(db, admin) == []  # nothing was changed, so nothing was logged

    upload(page, files["logo.png"])
    expect(page.locator("#settings_saved")).to_contain_text("Logo")
    version = hashlib.sha256(files["logo.png"].read_bytes()).hexdigest()[:16]
    expect(page.locator("#platform_logo")).to_have_attribute(
        "src", f"{platform_prefix()}?v={version}"
    )
    assert logo_width(page) == 96
    # A course page and the hub's own pages show it too.
    page.goto(f"{platform.service_url}/courses")
    assert logo_width(page) == 96
    page.goto(f"{platform.url}/hub/token")
    expect(page.locator("#platform_logo")).to_have_attribute("src", platform_prefix())
    assert logo_width(page) == 96

    # Served with caching headers: the versioned address for a year, the plain one revalidated.
    logo_url = f"{platform.url}{platform_prefix()}"
    kept = httpx.get(f"{logo_url}?v={version}")
    assert kept.status_code == 200 and kept.headers["content-type"] == "image/png"
    assert kept.content == files["logo.png"].read_bytes()
    assert "immutable" in kept.headers["cache-control"]
    assert kept.headers["x-content-type-options"] == "nosniff"
    plain = httpx.get(logo_url)
    assert plain.headers["cache-control"] == "public, no-cache"
    same = httpx.get(logo_url, headers={"If-None-Match": plain.headers["etag"]})
    assert same.status_code == 304 and same.content == b""

    # A JPEG named .png is taken for what it is.
    page.goto(settings)
    upload(page, files["photo.png"])
    expect(page.locator("#settings_saved")).to_contain_text("Logo")
    assert logo_width(page) == 40
    assert httpx.get(logo_url).headers["content-type"] == "image/jpeg"

    uploaded, replaced = logo_entries(db, admin)
    assert uploaded.before is None and uploaded.after["sha256"].startswith(version)
    assert uploaded.after["content_type"] == "image/png" and uploaded.after["width"] == 96
    assert replaced.before == uploaded.after and replaced.after["content_type"] == "image/jpeg"
    page.goto(f"{platform.service_url}/admin/audit?action=settings.logo")
    expect(page.locator("main")).to_contain_text("settings.logo")

    # Removed: CourseHub's mark again, everywhere.
    page.goto(settings)
    with page.expect_navigation():
        page.locator("#logo_remove").click()
    expect(page.locator("#settings_saved")).to_contain_text("Logo")
    expect(page.locator("#platform_logo")).to_have_attribute(
        "src", f"{platform_prefix()}?v=default"
    )
    assert logo_width(page) == default_width
    expect(page.locator("#logo_remove")).to_have_count(0)
    page.goto(f"{platform.url}/hub/token")
    assert logo_width(page) == default_width
    assert httpx.get(logo_url).headers["content-type"] == "image/svg+xml"
    removed = logo_entries(db, admin)[-1]
    assert removed.before["content_type"] == "image/jpeg" and removed.after is None


def test_only_administrators_change_the_logo(platform, make_account, signed_in, files):  # type: ignore[no-untyped-def]
    student = signed_in(make_account(Role.STUDENT))
    headers = xsrf_headers(student, student.get(f"{platform.service_url}/courses"))
    for path in ("/admin/settings/logo", "/admin/settings/logo/remove"):
        refused = student.post(
            f"{platform.service_url}{path}",
            headers=headers,
            files={"logo": ("logo.png", files["logo.png"].read_bytes(), "image/png")},
        )
        assert refused.status_code == 403, (path, refused.text[:300])
    # Signed out: the file is for everyone, the form for nobody.
    assert httpx.get(f"{platform.url}{platform_prefix()}").status_code == 200
    anonymous = httpx.post(
        f"{platform.service_url}/admin/settings/logo",
        files={"logo": ("logo.png", files["logo.png"].read_bytes(), "image/png")},
    )
    assert anonymous.status_code in (401, 403)


def platform_prefix() -> str:
    return "/services/coursehub/site/logo"
