#!/usr/bin/env python3
"""The signed webhooks of bench/load.sh: `bench/bodies.py DIR` writes each set (post, forged, hot,
invalid) as a wrk Lua script (SET.lua), as lines of [signature, body] (SET.jsonl, which
bench/loadgen/ re-signs with fresh ids) and one probe body (SET.json, SET.sig)."""

import hashlib
import hmac
import json
import random
import statistics
import sys
import uuid

SECRET = b"bench-secret"  # the vendors' secret in the generated configuration
ORDERS = 10_000

PHOTOGRAPHERS = ["Ann Berg", "Jonas Lind", "Mira Holm", "Erik Sand", "Lea Dahl", "Nils Ek"]
PACKAGES = [
    ("Photo package S", 12),
    ("Photo package M", 24),
    ("Photo package L", 40),
    ("Drone and photo package", 30),
]
STATES = [
    ("InProcess", "Shoot booked with {who} for {date}; the broker will be asked to confirm access to the property"),
    ("InProcess", "Photos taken by {who}; {n} images are being retouched and will be delivered within 24 hours"),
    ("Completed", "Photos delivered to the broker: {n} images in high resolution and 2 floor plans, ready for the listing"),
]


def envelope(rng: random.Random, n: int, order: uuid.UUID) -> str:
    """One canonical envelope with every field a vendor usually sends, about 600 bytes."""
    who = rng.choice(PHOTOGRAPHERS)
    package, images = rng.choice(PACKAGES)
    date = f"2026-11-{rng.randint(10, 28):02d}"
    state, status = STATES[n % len(STATES)]
    body = {
        "id": f"evt-{n:06d}-{rng.getrandbits(48):012x}",
        "orderId": str(order),
        "state": state,
        "status": status.format(who=who, date=date, n=images),
        "title": f"{package}, {images} images, 2 floor plans",
        "actionText": "Open the gallery",
        "metadata": [
            {"key": "Photographer", "value": who},
            {"key": "Shoot date", "value": date},
            {"key": "Images", "value": f"{images} (high resolution), 2 floor plans"},
            {"key": "Gallery", "value": f"https://photo.example/galleries/{order}"},
            {"key": "Vendor reference", "value": f"PH-2026-{n:06d}"},
        ],
    }
    return json.dumps(body, separators=(",", ":"))


# What a vendor that renamed its states sends: values the canonical schema's enum refuses.
RENAMED_STATES = {"InProcess": "InProgress", "Completed": "Done"}


def schema_invalid(body: str) -> str:
    """The same envelope with its state renamed: authenticated, then refused 422 by the schema."""
    document = json.loads(body)
    document["state"] = RENAMED_STATES[document["state"]]
    return json.dumps(document, separators=(",", ":"))


def signature(body: str, forged: bool) -> str:
    mac = "0" * 64 if forged else hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def write_set(work: str, name: str, bodies: list, forged: bool) -> None:
    """A wrk script replaying `bodies` in turn; each thread starts at its own offset, so the
    two threads do not post the same order at the same moment."""
    signed = [(signature(body, forged), body) for body in bodies]
    with open(f"{work}/{name}.lua", "w") as out:
        out.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        out.write("local bodies, signatures = {}, {}\n")
        for i, (sig, body) in enumerate(signed, 1):
            out.write(f"bodies[{i}] = {json.dumps(body)}\n")
            out.write(f'signatures[{i}] = "{sig}"\n')
        out.write(
            f"local count, threads, n = {len(bodies)}, 0, 0\n"
            "function setup(thread)\n"
            '  thread:set("offset", threads * 5003 % count)\n'
            "  threads = threads + 1\n"
            "end\n"
            "function init(args) n = offset or 0 end\n"
            "function request()\n"
            "  n = n % count + 1\n"
            '  wrk.headers["X-Hub-Signature-256"] = signatures[n]\n'
            "  return wrk.format(nil, nil, nil, bodies[n])\n"
            "end\n"
        )
    with open(f"{work}/{name}.jsonl", "w") as out:
        for pair in signed:
            out.write(json.dumps(pair) + "\n")
    with open(f"{work}/{name}.json", "w") as out:
        out.write(signed[0][1])
    with open(f"{work}/{name}.sig", "w") as out:
        out.write(signed[0][0])


def bodies(work: str) -> None:
    rng = random.Random(2026)
    orders = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(ORDERS)]
    distinct = [envelope(rng, n, order) for n, order in enumerate(orders)]
    hot = [envelope(rng, n, orders[0]) for n in range(ORDERS)]
    write_set(work, "post", distinct, forged=False)
    write_set(work, "forged", distinct, forged=True)
    write_set(work, "hot", hot, forged=False)
    write_set(work, "invalid", [schema_invalid(body) for body in distinct], forged=False)
    sizes = [len(body) for body in distinct + hot]
    print(f"bodies: {ORDERS} orders, {min(sizes)}-{max(sizes)} bytes, mean {statistics.mean(sizes):.0f}")


if __name__ == "__main__":
    bodies(sys.argv[1])
