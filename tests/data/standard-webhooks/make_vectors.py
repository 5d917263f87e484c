#!/usr/bin/env python3
"""Cross-language test vectors for flowgate's standard-webhooks verifier.

The signatures come from the official Standard Webhooks Python library, so the Rust verifier
is checked against an independent implementation rather than against itself.

Regenerate (from this directory):

    pip install standardwebhooks==1.1.0
    python3 make_vectors.py > vectors.json

Everything is fixed (secrets, ids, timestamps, bodies), so the output only changes when the
library or this script does. The secrets are test-only values; never reuse them.
"""

import base64
import hashlib
import json
import sys
from datetime import datetime, timezone
from importlib.metadata import version

from standardwebhooks.webhooks import Webhook


def derived_secret(label: str, length: int, padded: bool = True) -> str:
    """A reproducible `whsec_` secret of `length` bytes (no randomness, so reruns are stable)."""
    raw = hashlib.sha512(f"flowgate test vector {label}".encode()).digest()[:length]
    encoded = base64.b64encode(raw).decode()
    if not padded:
        encoded = encoded.rstrip("=")
    return "whsec_" + encoded


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return Webhook(secret).sign(msg_id, when, body)


def vector(name: str, secret: str, msg_id: str, timestamp: int, body: str) -> dict:
    return {
        "name": name,
        "secret": secret,
        "msg_id": msg_id,
        "timestamp": timestamp,
        "body": body,
        "signature": sign(secret, msg_id, timestamp, body),
    }


def main() -> None:
    vectors = [
        # The example the Svix and Standard Webhooks libraries test against.
        vector(
            "svix-reference",
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            '{"email":"test@example.com","username":"test_user"}',
        ),
        # 32 bytes encode to 44 characters with one "=": written here without the padding.
        vector(
            "unpadded-secret",
            derived_secret("unpadded", 32, padded=False),
            "msg_2fGq7cVyqPLzUJ3m7Xr8Xq1hWbA",
            1764331200,
            '{"id":"evt_1","type":"order.accepted","data":{"orderId":"A-1001"}}',
        ),
        vector(
            "unicode-body",
            derived_secret("unicode", 24),
            "msg_unicode_01",
            1764331260,
            '{"type":"order.delivered","data":{"product":"Fotoshooting – Müller 📷",'
            '"message":"納品しました","photographer":"Zoë Ångström"}}',
        ),
        vector(
            "long-secret-multiline-body",
            derived_secret("long", 64),
            "6f1c2a4e-8a1b-4c7e-9d2f-3b5a7c9e1f20",
            1893456000,
            '{\n  "type": "order.accepted",\n  "data": {\n    "orderId": "B-42",\n'
            '    "flowUrl": "https://flow.example/tenant/14"\n  }\n}\n',
        ),
        vector(
            "empty-body",
            derived_secret("empty", 24),
            "msg_empty",
            1700000000,
            "",
        ),
    ]

    # A sender rotating its secret signs with both: the header carries two space-separated
    # entries, and a receiver holding only `secret` must still accept it.
    multi = vector(
        "two-signatures",
        derived_secret("rotation-new", 24),
        "msg_rotation_01",
        1764331320,
        '{"type":"order.accepted","data":{"orderId":"C-7"}}',
    )
    other = sign(derived_secret("rotation-old", 24), multi["msg_id"], multi["timestamp"], multi["body"])
    multi["signature"] = f"{other} {multi['signature']}"
    vectors.append(multi)

    out = {
        "generator": f"standardwebhooks {version('standardwebhooks')} (Python), make_vectors.py",
        "vectors": vectors,
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
