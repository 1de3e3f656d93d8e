"""CourseHub's own RSA keys for LTI: the newest unretired key signs (service tokens, deep
linking answers), every key not retired longer than ``GRACE`` is published in the JWKS.

Private keys stay in the database (``lti_tool_keys``) and never reach a log or an answer.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import LtiToolKey, utcnow

# How long a replaced key stays published: longer than any platform caches a JWKS.
GRACE = timedelta(days=7)


def _new_key() -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    # The kid is the key's RFC 7638 thumbprint: what pylti1p3 names in the header of the
    # service tokens it signs with this key, so platforms find it in the published JWKS.
    jwk = JWK.from_pem(pem.encode())
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return LtiToolKey(kid=kid, private_key_pem=pem, public_jwk=public)


async def signing_key(session: AsyncSession) -> LtiToolKey:
    """The key that signs now; the first call makes one (the caller commits)."""
    key = await session.scalar(
        select(LtiToolKey)
        .where(LtiToolKey.retired_at.is_(None))
        .order_by(LtiToolKey.created_at.desc(), LtiToolKey.id.desc())
        .limit(1)
    )
    if key is None:
        key = _new_key()
        session.add(key)
        await session.flush()
    return key


async def rotate(session: AsyncSession) -> LtiToolKey:
    """A new signing key; the keys it replaces stay published for ``GRACE``."""
    await session.execute(
        update(LtiToolKey).where(LtiToolKey.retired_at.is_(None)).values(retired_at=utcnow())
    )
    key = _new_key()
    session.add(key)
    await session.flush()
    return key


async def published_jwks(session: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    """The JWKS platforms verify CourseHub's signatures with: public parts only."""
    await signing_key(session)
    keys = await session.scalars(
        select(LtiToolKey)
        .where(or_(LtiToolKey.retired_at.is_(None), LtiToolKey.retired_at > utcnow() - GRACE))
        .order_by(LtiToolKey.created_at.desc(), LtiToolKey.id.desc())
    )
    return {"keys": [dict(key.public_jwk) for key in keys]}
