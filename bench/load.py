#!/usr/bin/env python3
"""The parts of bench/load.sh that are easier in Python than in shell.

  bodies DIR                      the signed webhooks, as wrk Lua scripts (post, forged, hot,
                                  invalid), as lines of [signature, body] (SET.jsonl), and one
                                  probe body of each set (SET.json, SET.sig)
  post URL SET COUNT STATUS       send COUNT requests of the set SET ("-" for GETs) one after
                                  another on one connection; exit 1 unless each answers STATUS
  totals FILE                     the instructions a callgrind dump counted
  ready BINARY CONFIG ADMIN WAIT  start the gateway, print the ms from exec to /readyz 200 and the
                                  RSS (MiB) WAIT seconds later, then stop it
  report RESULTS STARTS MODE      print the table, the TLS runs' CPU, what keeping a rejection
                                  costs and, unless MODE is smoke, the targets; exit 1 when a run
                                  is not sane (no requests, the wrong status class, rejections
                                  kept or not as its scenario says)
"""

import hashlib
import http.client
import hmac
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
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


def vm(pid: int, key: str) -> float:
    """A /proc/PID/status size in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def answers_ready(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.makefile("rb").readline().split()[1:2] == [b"200"]
    except OSError:
        return False


def ready(binary: str, config: str, admin: str, wait: str) -> None:
    host, port = admin.rsplit(":", 1)
    with open(config + ".log", "w") as log:
        started = time.monotonic()
        gateway = subprocess.Popen([binary, "--config", config, "serve"], stdout=log, stderr=log)
        try:
            while not answers_ready(host, int(port)):
                if gateway.poll() is not None or time.monotonic() - started > 10:
                    sys.exit(f"the gateway never became ready; see {config}.log")
                time.sleep(0.001)
            elapsed = (time.monotonic() - started) * 1000
            time.sleep(float(wait))
            print(f"{elapsed:.1f} {vm(gateway.pid, 'VmRSS'):.1f}")
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=30)


# === instructions ===

def post(url: str, set_path: str, count: str, status: str) -> None:
    """Requests one at a time, so the server's count of instructions is all theirs."""
    host, _, path = url.removeprefix("http://").partition("/")
    name, port = host.rsplit(":", 1)
    signed = []
    if set_path != "-":
        with open(set_path) as lines:
            signed = [json.loads(line) for line in lines]
    connection = http.client.HTTPConnection(name, int(port), timeout=60)
    for n in range(int(count)):
        if signed:
            sig, body = signed[n % len(signed)]
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sig}
            connection.request("POST", "/" + path, body=body.encode(), headers=headers)
        else:
            connection.request("GET", "/" + path)
        answer = connection.getresponse()
        answer.read()
        if str(answer.status) != status:
            sys.exit(f"request {n} to {url} answered {answer.status}, expected {status}")


def totals(dump: str) -> None:
    """callgrind writes `totals: <Ir>` (or `summary:`) into each dump."""
    with open(dump) as lines:
        for line in lines:
            if line.startswith(("totals:", "summary:")):
                print(line.split()[1])
                return
    sys.exit(f"no totals in {dump}")


# === report ===

BASELINES = ("nginx", "proxy", "nginx-tls", "nginx-tls-new")
# The refusals flooded with rejections kept, and the same with none kept.
KEEPING = ("invalid-kept", "invalid-unkept")
# The TLS runs, each with the plain-HTTP run over the same path: what TLS adds is the difference.
OVER_TLS = {"nginx-tls": "nginx", "nginx-tls-new": "nginx", "tls": "rejected", "tls-full": "full", "tls-new": "rejected"}


def nginx_for(name: str) -> str:
    """The nginx run a scenario is compared with: over TLS, nginx terminating TLS the same way."""
    if name in ("nginx-tls-new", "tls-new"):
        return "nginx-tls-new"
    return "nginx-tls" if name in OVER_TLS else "nginx"


def ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("nan")


def read_runs(path: str) -> list:
    keys = "round name rps p50 p99 requests bad errors rss expect probe delivered failed cpu flow_cpu kept".split()
    runs = []
    with open(path) as lines:
        for line in lines:
            run = dict(zip(keys, line.split()))
            run["rps"] = float(run["rps"])
            run["p50"], run["p99"] = ms(run["p50"]), ms(run["p99"])
            for key in ("requests", "bad", "errors", "delivered", "failed", "cpu", "flow_cpu", "kept"):
                run[key] = int(run[key])
            runs.append(run)
    return runs


def insane(run: dict) -> str:
    """Why a run's numbers mean nothing, or '' when they are sane."""
    if run["requests"] <= 0 or run["rps"] <= 0:
        return "no requests answered"
    if run["errors"]:
        return f"{run['errors']} socket errors"
    if run["failed"]:
        return f"{run['failed']} Flow calls or deliveries failed"
    if run["name"] not in (*BASELINES, *KEEPING, "ping", "rejected", "tls", "tls-new") and not run["delivered"]:
        return "nothing was delivered to Flow"
    if run["name"] == "invalid-kept" and run["kept"] < run["requests"]:
        return f"{run['kept']} rejections kept for {run['requests']} refused"
    if run["name"] == "invalid-unkept" and run["kept"]:
        return f"{run['kept']} rejections kept, none should be"
    if run["probe"] != run["expect"]:
        return f"a probe answered {run['probe']}, expected {run['expect']}"
    if run["expect"].startswith("2") and run["bad"]:
        return f"{run['bad']} non-2xx answers"
    if not run["expect"].startswith("2") and run["bad"] != run["requests"]:
        return f"{run['requests'] - run['bad']} of {run['requests']} answers were 2xx"
    return ""


def thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base > 0 else "–"


def cpu_per_request(run: dict, tick_us: float) -> tuple:
    """CPU µs per answered request: the server's own, and the instant Flow's."""
    n = max(run["requests"], 1)
    return run["cpu"] * tick_us / n, run["flow_cpu"] * tick_us / n


def table(runs: list, tick_us: float) -> None:
    base = {(r["round"], r["name"]): r for r in runs if r["name"] in BASELINES}
    print("| round | scenario | req/s | p50 | p99 | non-2xx | × nginx | × proxy | p99 × nginx "
          "| CPU/req: server + Flow | peak RSS | delivered |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        nginx = base.get((r["round"], nginx_for(r["name"])))
        proxy = None if r["name"] in OVER_TLS else base.get((r["round"], "proxy"))
        bad = f"all ({r['expect']})" if r["bad"] and r["bad"] == r["requests"] else str(r["bad"])
        if r["errors"]:
            bad += f", {r['errors']} socket errors"
        gateway = r["rss"] != "-"
        rss = f"{float(r['rss']):.0f} MiB" if gateway else "–"
        delivered = thousands(r["delivered"]) if gateway else "–"
        server, flow = cpu_per_request(r, tick_us)
        print(
            f"| {r['round']} | {r['name']} | {thousands(r['rps'])} | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {bad} "
            f"| {ratio(r['rps'], nginx['rps'] if nginx else 0)} | {ratio(r['rps'], proxy['rps'] if proxy else 0)} "
            f"| {ratio(r['p99'], nginx['p99'] if nginx else 0)} | {server:.0f} + {flow:.0f} µs | {rss} | {delivered} |"
        )


def spread(values: list, shown, unit: str = "") -> str:
    """The median of per-round values, and their range when they differ."""
    middle = f"{shown(statistics.median(values))}{unit}"
    low, high = shown(min(values)), shown(max(values))
    return middle if low == high else f"{middle} ({low} to {high})"


def tls_table(runs: list, tick_us: float) -> None:
    """Each TLS run's CPU per request (median over rounds, and its range), against nginx's over
    TLS the same way in the same round, and what TLS added to the server's CPU over the same path
    in plain HTTP in the same round."""
    by = {(r["round"], r["name"]): r for r in runs}
    names = [name for name in OVER_TLS if any(r["name"] == name for r in runs)]
    if not names:
        return
    print("\n| over TLS | rounds | CPU/req: server | Flow | total | total × nginx | req/s × nginx "
          "| TLS adds to the server |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    us = lambda v: f"{v:.0f}"  # noqa: E731
    for name in names:
        server, flow, total, cpu_ratio, rps_ratio, added = [], [], [], [], [], []
        for r in (r for r in runs if r["name"] == name):
            s, f = cpu_per_request(r, tick_us)
            server.append(s)
            flow.append(f)
            total.append(s + f)
            nginx = by.get((r["round"], nginx_for(name)))
            if nginx:
                cpu_ratio.append((s + f) / max(sum(cpu_per_request(nginx, tick_us)), 1e-9))
                rps_ratio.append(r["rps"] / nginx["rps"])
            plain = by.get((r["round"], OVER_TLS[name]))
            if plain:
                added.append(s - cpu_per_request(plain, tick_us)[0])
        ratios = [spread(v, lambda x: f"{x:.2f}") if v else "–" for v in (cpu_ratio, rps_ratio)]
        adds = f"{spread(added, lambda x: f'{x:+.0f}', ' µs')} over {OVER_TLS[name]}" if added else "–"
        print(
            f"| {name} | {len(server)} | {spread(server, us, ' µs')} | {spread(flow, us, ' µs')} "
            f"| {spread(total, us, ' µs')} | {ratios[0]} | {ratios[1]} | {adds} |"
        )


def keeping_table(runs: list, tick_us: float) -> None:
    """What keeping a rejection costs: the server's CPU per refused webhook with rejections kept
    and with none kept, each the median over rounds (with its range), and per round the
    difference (µs per kept rejection) and the ratio."""
    by = {(r["round"], r["name"]): r for r in runs}
    rounds = sorted({r["round"] for r in runs if r["name"] in KEEPING}, key=int)
    kept, unkept, cost, ratios, rates = [], [], [], [], []
    for n in rounds:
        on, off = by.get((n, "invalid-kept")), by.get((n, "invalid-unkept"))
        if not on or not off:
            continue
        kept.append(cpu_per_request(on, tick_us)[0])
        unkept.append(cpu_per_request(off, tick_us)[0])
        cost.append(kept[-1] - unkept[-1])
        ratios.append(kept[-1] / max(unkept[-1], 1e-9))
        rates.append(on["rps"] / max(off["rps"], 1e-9))
    if not kept:
        return
    us = lambda v: f"{v:.1f}"  # noqa: E731
    print("\n| keeping rejections | rounds | CPU/req: kept | not kept | keeping adds | kept × not kept "
          "| req/s kept × not kept |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| 422 `schema-violation` | {len(kept)} | {spread(kept, us, ' µs')} | {spread(unkept, us, ' µs')} "
        f"| {spread(cost, lambda v: f'{v:+.1f}', ' µs')} | {spread(ratios, lambda v: f'{v:.2f}')} "
        f"| {spread(rates, lambda v: f'{v:.2f}')} |"
    )


def per_round(runs: list, name: str, value) -> list:
    nginx = {r["round"]: r for r in runs if r["name"] == "nginx"}
    return [value(r, nginx[r["round"]]) for r in runs if r["name"] == name and r["round"] in nginx]


def judged(label: str, values: list, met, shown) -> None:
    if not values:
        print(f"| {label} | not run | – |")
        return
    middle = statistics.median(values)
    spread = f" ({shown(min(values))} to {shown(max(values))})" if len(values) > 1 else ""
    print(f"| {label} | {shown(middle)}{spread} | {'met' if met(middle) else '**not met**'} |")


def times(value: float) -> str:
    return f"{value:.2f}×"


def targets(runs: list, starts: list) -> None:
    """The performance goals, judged on the median over rounds of each ratio to nginx."""
    rps = lambda r, n: r["rps"] / n["rps"]  # noqa: E731
    p99 = lambda r, n: r["p99"] / n["p99"]  # noqa: E731
    peaks = [float(r["rss"]) for r in runs if r["rss"] != "-"]
    ready_ms = [statistics.median(s[0] for s in starts)] if starts else []
    print("\n| target | measured | status |\n|---|---|---|")
    judged("queued `full` req/s ≥ 1.0× nginx", per_round(runs, "full", rps), lambda v: v >= 1.0, times)
    judged("queued `full` p99 ≤ 2× nginx's p99", per_round(runs, "full", p99), lambda v: v <= 2.0, times)
    judged("sync req/s ≥ 0.8× nginx", per_round(runs, "sync", rps), lambda v: v >= 0.8, times)
    judged("rejected req/s ≥ 2× nginx", per_round(runs, "rejected", rps), lambda v: v >= 2.0, times)
    judged("peak RSS < 64 MiB (largest of all runs)", [max(peaks)] if peaks else [],
           lambda v: v < 64, lambda v: f"{v:.0f} MiB")
    judged("ready < 200 ms (median start-up)", ready_ms, lambda v: v < 200, lambda v: f"{v:.0f} ms")


def report(results: str, starts_path: str, mode: str, clock_ticks: str) -> None:
    runs = read_runs(results)
    with open(starts_path) as lines:
        starts = [tuple(map(float, line.split())) for line in lines if line.strip()]
    print()
    tick_us = 1_000_000 / float(clock_ticks)
    table(runs, tick_us)
    tls_table(runs, tick_us)
    keeping_table(runs, tick_us)
    if starts:
        ready_ms = [s[0] for s in starts]
        print(
            f"\nStart-up, {len(starts)} starts on a fresh database: ready (exec to `/readyz` 200) median "
            f"{statistics.median(ready_ms):.0f} ms ({min(ready_ms):.0f} to {max(ready_ms):.0f}); idle RSS "
            f"median {statistics.median(s[1] for s in starts):.1f} MiB."
        )
    failures = [f"{r['round']} {r['name']}: {why}" for r in runs if (why := insane(r))]
    if mode != "smoke":
        targets(runs, starts)
    for failure in failures:
        print(f"not sane: {failure}", file=sys.stderr)
    if failures or not starts:
        sys.exit(1)


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    {"bodies": bodies, "ready": ready, "post": post, "totals": totals, "report": report}[verb](*args)
