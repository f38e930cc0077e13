"""A passkey made in software, for the tests that speak to the server without a browser.

It answers the server's WebAuthn options as an authenticator and a browser would together: an
EC P-256 key, "none" attestation, and assertions signed over the authenticator data and the hash
of the client data, with a counter that goes up at each use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftwarePasskey:
    def __init__(self, *, rp_id: str = "localhost", origin: str = "http://localhost:8000"):
        self.rp_id = rp_id
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def _client_data(self, kind: str, options: dict) -> bytes:
        body = {"type": kind, "challenge": options["challenge"], "origin": self.origin}
        return json.dumps({**body, "crossOrigin": False}).encode()

    def _public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()

    def register(self, options: dict) -> dict:
        """The answer to registration options (navigator.credentials.create)."""
        attested = (
            bytes(16)  # no AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._public_key()
        )
        data = self._rp_hash() + bytes([UP | UV | AT]) + self.sign_count.to_bytes(4, "big")
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data + attested})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", options)),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def sign_in(self, options: dict, *, signing_key: ec.EllipticCurvePrivateKey | None = None):
        """The answer to authentication options (navigator.credentials.get); `signing_key`
        forges it with a key other than the passkey's own."""
        self.sign_count += 1
        client_data = self._client_data("webauthn.get", options)
        data = self._rp_hash() + bytes([UP | UV]) + self.sign_count.to_bytes(4, "big")
        signed = data + hashlib.sha256(client_data).digest()
        signature = (signing_key or self.key).sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(data),
                "signature": b64url(signature),
            },
            "clientExtensionResults": {},
        }
