"""The site's logo: an image an administrator uploads, shown in the navigation of every page
(the course service's and the hub's).

Only PNG and JPEG are kept, decided by the bytes (never the file's name or the browser's
word), and the image must decode as what its first bytes say, within ``MAX_LOGO_BYTES`` and
``MAX_SIDE`` pixels a side. It lives in the database (``site_images``), so every service
process and machine serves the same one and backups carry it. Without an upload the pages
show CourseHub's own mark (``default_logo.svg``). Uploading and removing are audited
(``settings.logo``) and move the site settings' version, so every process's pages point at
the new image at once.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.audit import audit_log
from coursehub.services.content.uploads import JPEG, PNG, sniff_image
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, SiteImage, utcnow
from coursehub.services.settings import MB
from coursehub.services.site_settings.site_settings import LOGO, bump_version

MAX_LOGO_BYTES = 1 * MB
MAX_SIDE = 4096
# The navigation shows the logo this tall; anything from a favicon up is fine.
MIN_SIDE = 16
ACCEPTED = {PNG.content_type: "PNG", JPEG.content_type: "JPEG"}
DEFAULT_LOGO = (Path(__file__).parent / "default_logo.svg").read_bytes()
DEFAULT_CONTENT_TYPE = "image/svg+xml"
DEFAULT_VERSION = "default"


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    width: int
    height: int


def check_logo(data: bytes) -> CheckedImage:
    """The upload's type and size, or a refusal saying what to upload instead."""
    if not data:
        raise Refusal("Choose an image file to upload as the logo.", 400, field="logo")
    if len(data) > MAX_LOGO_BYTES:
        raise Refusal(
            f"The logo can be at most {MAX_LOGO_BYTES / MB:g} MB; this file is "
            f"{len(data) / MB:.1f} MB. Save it smaller (a few hundred pixels wide is plenty).",
            413,
            field="logo",
        )
    found = sniff_image(data[:64])
    if found is None or found.content_type not in ACCEPTED:
        raise Refusal(
            "The logo must be a PNG or JPEG image (this file is not one, whatever its name "
            "says). Save it as PNG or JPEG and upload it again.",
            400,
            field="logo",
        )
    unreadable = Refusal(
        "This image cannot be read (the file may be cut short or damaged). Save it again "
        "as PNG or JPEG and upload that.",
        400,
        field="logo",
    )
    # Pillow may be told to pad cut images instead of failing (WeasyPrint, in this process,
    # does), so wholeness is checked apart from decoding: a PNG's chunks up to its end, each
    # against its checksum; a JPEG's end-of-image marker.
    if found is JPEG and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        raise unreadable
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, (width, height) = image.format, image.size
            if found is PNG:
                image.verify()
        if max(width, height) <= MAX_SIDE:
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decodes every pixel
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise unreadable from None
    if max(width, height) > MAX_SIDE:
        raise Refusal(
            f"The logo can be at most {MAX_SIDE} pixels a side; this one is {width} x {height}.",
            400,
            field="logo",
        )
    if image_format != ACCEPTED[found.content_type]:
        raise Refusal(
            "This file's contents do not match its type; save it again as PNG or JPEG.",
            400,
            field="logo",
        )
    if min(width, height) < MIN_SIDE:
        raise Refusal(
            f"The logo must be at least {MIN_SIDE} pixels a side to be seen; this one is "
            f"{width} x {height}.",
            400,
            field="logo",
        )
    return CheckedImage(found.content_type, width, height)


async def current(session: AsyncSession) -> SiteImage | None:
    return await session.get(SiteImage, LOGO)


def _described(image: SiteImage | None) -> dict[str, object] | None:
    if image is None:
        return None
    return {
        "sha256": image.sha256,
        "content_type": image.content_type,
        "bytes": len(image.data),
        "width": image.width,
        "height": image.height,
    }


async def _tell_processes(redis: Redis) -> None:
    try:
        await bump_version(redis)
    except RedisError:
        raise Refusal(
            "CourseHub cannot tell its processes about the new logo (Redis is not answering); "
            "nothing was changed. Try again in a minute.",
            503,
        ) from None


async def upload(session: AsyncSession, redis: Redis, actor: Account, data: bytes) -> SiteImage:
    """Check ``data`` and make it the logo (the caller commits, then bumps the version
    again, as with every site setting)."""
    checked = check_logo(data)
    image = await session.get(SiteImage, LOGO, with_for_update=True)
    before = _described(image)
    if image is None:
        image = SiteImage(name=LOGO)
        session.add(image)
    image.content_type, image.data = checked.content_type, data
    image.width, image.height = checked.width, checked.height
    image.sha256 = hashlib.sha256(data).hexdigest()
    image.uploaded_by_id, image.uploaded_at = actor.id, utcnow()
    await session.flush()
    audit_log.record(
        session, actor, "settings.logo", ("site_setting", LOGO), before, _described(image)
    )
    await _tell_processes(redis)
    return image


async def remove(session: AsyncSession, redis: Redis, actor: Account) -> None:
    """Back to CourseHub's own mark."""
    image = await session.get(SiteImage, LOGO, with_for_update=True)
    if image is None:
        raise Refusal("There is no uploaded logo to remove.", 404, field="logo")
    before = _described(image)
    await session.delete(image)
    await session.flush()
    audit_log.record(session, actor, "settings.logo", ("site_setting", LOGO), before, None)
    await _tell_processes(redis)
