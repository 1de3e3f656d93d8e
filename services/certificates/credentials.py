"""The platform's certificate key, the tag a certificate's PDF carries, and the Open Badges
3.0 / W3C Verifiable Credential of a certificate, signed with Ed25519.

The key is made once, on first use, in the data folder (``certificate-signing-key.pem``,
readable by CourseHub only); the service and the workers of one platform share that folder.
Its public part is published as a JWK at ``/.well-known/coursehub-certificates.json`` (see
the handlers). A PDF carries ``coursehub-certificate:<public id>:<tag>`` in its keywords: the
tag is an HMAC of what it certifies with a secret derived from the key, and verification
also compares the uploaded file with the one CourseHub issued, so an edited PDF fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_FILE = "certificate-signing-key.pem"
KEYWORD_PREFIX = "coursehub-certificate"
KEY_PATH = "/.well-known/coursehub-certificates.json"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CertificateKeys:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def public_jwk(self) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.key_id}

    def _mac_secret(self) -> bytes:
        raw = self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return hashlib.sha256(b"coursehub certificate pdf tag\0" + raw).digest()

    def pdf_tag(self, public_id: str, holder: str, course: str, issued_at: datetime) -> str:
        message = "\0".join([public_id, holder, course, issued_at.isoformat()]).encode()
        return hmac.new(self._mac_secret(), message, hashlib.sha256).hexdigest()[:32]


def load_keys(data_dir: Path) -> CertificateKeys:
    """The platform's key from ``data_dir``, made there the first time (by one process:
    the file is created exclusively, and a process that loses the race reads the winner's)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 key; move it away to make a new one.")
    return CertificateKeys(key)


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def open_badge(
    *,
    keys: CertificateKeys,
    public_url: str,
    verify_url: str,
    public_id: str,
    holder_name: str,
    course_title: str,
    course_url: str,
    title: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The certificate as an Open Badges 3.0 OpenBadgeCredential with an Ed25519 proof
    (``eddsa-jcs-2022`` shape: the proof signs the JCS-canonical credential)."""
    credential: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": verify_url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": public_url, "type": ["Profile"], "name": "CourseHub"},
        "validFrom": issued_at.isoformat(),
        "name": title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": holder_name,
            "achievement": {
                "id": course_url,
                "type": ["Achievement"],
                "name": course_title,
                "description": f"{title}: {course_title}",
                "criteria": {"narrative": "Completed the course under its certificate rule."},
            },
        },
        "credentialStatus": {"id": verify_url, "type": "CourseHubVerificationPage"},
    }
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": issued_at.isoformat(),
        "verificationMethod": f"{public_url}{KEY_PATH}#{keys.key_id}",
        "proofPurpose": "assertionMethod",
    }
    signature = keys.private.sign(_canonical({**credential, "proof": proof}))
    credential["proof"] = {**proof, "proofValue": _b64url(signature)}
    return credential


def credential_is_authentic(keys: CertificateKeys, credential: dict[str, Any]) -> bool:
    proof = credential.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("proofValue"), str):
        return False
    unsigned_proof = {k: v for k, v in proof.items() if k != "proofValue"}
    document = {**credential, "proof": unsigned_proof}
    try:
        keys.public.verify(_unb64url(proof["proofValue"]), _canonical(document))
    except (InvalidSignature, ValueError):
        return False
    return True
