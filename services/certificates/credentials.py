"""The platform's certificate key, the tag a certificate's PDF carries, and the Open Badges
3.0 / W3C Verifiable Credential of a certificate, with an ``eddsa-jcs-2022`` Data Integrity
proof (W3C): RFC 8785 canonical JSON (the ``rfc8785`` library), SHA-256, Ed25519.

The key is made once, on first use, in the data folder (``certificate-signing-key.pem``,
readable by CourseHub only); the service and the workers of one platform share that folder.
Its public part is published as a JWK and as the proofs' Multikey verification method at
``/.well-known/coursehub-certificates.json`` (see the handlers). Credentials signed before
the standard proof (base64url Ed25519 over sorted-key JSON) still verify.

A PDF carries ``coursehub-certificate:<public id>:<tag>`` in its keywords: the
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

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from coursehub.hub.constants import SERVICE_PREFIX

KEY_FILE = "certificate-signing-key.pem"
KEYWORD_PREFIX = "coursehub-certificate"
KEY_PATH = "/.well-known/coursehub-certificates.json"


def key_url(public_url: str) -> str:
    """Where the key is published (under the course service's prefix, as routed)."""
    return f"{public_url}{SERVICE_PREFIX}{KEY_PATH}"


ED25519_MULTICODEC = b"\xed\x01"


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

    def public_multikey(self) -> str:
        """The public key as a Multikey ``publicKeyMultibase`` (base58-btc, Ed25519 prefix)."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "z" + base58.b58encode(ED25519_MULTICODEC + raw).decode()

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


def _legacy_canonical(document: dict[str, Any]) -> bytes:
    """How credentials issued before the eddsa-jcs-2022 proof were signed (sorted-key JSON of
    the document with its proof minus ``proofValue``); kept so they still verify."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hash_data(unsecured: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    """eddsa-jcs-2022 (W3C Data Integrity EdDSA Cryptosuites, 3.3): SHA-256 of the RFC 8785
    canonical proof configuration, then of the canonical document."""
    config = {**proof_config, "@context": unsecured["@context"]}
    return (
        hashlib.sha256(rfc8785.dumps(config)).digest()
        + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    )


def verification_method(keys: CertificateKeys, public_url: str) -> dict[str, str]:
    """The key as the Multikey verification method a credential's proof names."""
    return {
        "id": f"{key_url(public_url)}#{keys.key_id}",
        "type": "Multikey",
        "controller": public_url,
        "publicKeyMultibase": keys.public_multikey(),
    }


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
    """The certificate as an Open Badges 3.0 OpenBadgeCredential with a Data Integrity proof
    by the ``eddsa-jcs-2022`` cryptosuite (RFC 8785 canonical JSON, Ed25519, base58-btc)."""
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
        "verificationMethod": f"{key_url(public_url)}#{keys.key_id}",
        "proofPurpose": "assertionMethod",
    }
    signature = keys.private.sign(_hash_data(credential, proof))
    credential["proof"] = {**proof, "proofValue": "z" + base58.b58encode(signature).decode()}
    return credential


def credential_is_authentic(keys: CertificateKeys, credential: dict[str, Any]) -> bool:
    """Does the credential's proof hold for this document with the platform's key? The
    eddsa-jcs-2022 proof (``proofValue`` multibase ``z…``), or the earlier sorted-JSON one."""
    proof = credential.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("proofValue"), str):
        return False
    value = proof["proofValue"]
    unsigned_proof = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    try:
        if proof.get("cryptosuite") == "eddsa-jcs-2022" and value.startswith("z"):
            try:
                signed = _hash_data(unsecured, unsigned_proof)
                keys.public.verify(base58.b58decode(value[1:]), signed)
                return True
            except InvalidSignature:
                pass
        # Credentials issued before the standard proof: base64url over sorted-key JSON.
        legacy = {**unsecured, "proof": unsigned_proof}
        keys.public.verify(_unb64url(value), _legacy_canonical(legacy))
    except (InvalidSignature, ValueError, KeyError, TypeError, rfc8785.CanonicalizationError):
        return False
    return True
