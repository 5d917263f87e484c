#!/usr/bin/env python3
"""The parts of bench/load.sh that are easier in Python than in shell.

  totals FILE                     the instructions a callgrind dump counted
  ready BINARY CONFIG ADMIN WAIT  start the gateway, print the ms from exec to /readyz 200, then
                                  WAIT seconds later its RSS and peak RSS (MiB) and the
                                  deliveries its queue holds, then stop it
  report RESULTS STARTS MODE TICKS BACKLOG
                                  print the table, the TLS runs' CPU, what keeping a rejection
                                  costs, the backlog and, unless MODE is smoke, the targets; exit
                                  1 when a run is not sane (no requests, the wrong status class,
                                  duplicates, rejections kept or not as its scenario says)
"""

import signal
import socket
import statistics
import subprocess
import sys
import time

def vm(pid: int, key: str) -> float:
    """A /proc/PID/status size in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def get(host: str, port: int, path: str) -> bytes:
    """One GET on a connection of its own: the whole answer, head and body."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        return s.makefile("rb").read()


def answers_ready(host: str, port: int) -> bool:
    try:
        return get(host, port, "/readyz").split(b"\r\n", 1)[0].split()[1:2] == [b"200"]
    except OSError:
        return False


def queued(host: str, port: int) -> int:
    """The deliveries the gateway's queue holds (pending, in flight, retrying), from /metrics."""
    total = 0.0
    for line in get(host, port, "/metrics").decode().splitlines():
        if line.startswith("flowgate_queue_depth{") and 'state="dead"' not in line:
            total += float(line.split()[-1])
    return int(total)


def ready(binary: str, config: str, admin: str, wait: str) -> None:
    host, port = admin.rsplit(":", 1)
    with open(config + ".log", "w") as log:
        started = time.monotonic()
        gateway = subprocess.Popen([binary, "--config", config, "serve"], stdout=log, stderr=log)
        try:
            while not answers_ready(host, int(port)):
                if gateway.poll() is not None or time.monotonic() - started > 120:
                    sys.exit(f"the gateway never became ready; see {config}.log")
                time.sleep(0.001)
            elapsed = (time.monotonic() - started) * 1000
            time.sleep(float(wait))
            rss, peak = vm(gateway.pid, "VmRSS"), vm(gateway.pid, "VmHWM")
            print(f"{elapsed:.1f} {rss:.1f} {peak:.1f} {queued(host, int(port))}")
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(timeout=30)


# === instructions ===

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
    keys = ("round name rps p50 p99 requests bad errors rss expect probe delivered failed cpu flow_cpu kept "
            "drained_cpu drain_ms dups").split()
    runs = []
    with open(path) as lines:
        for line in lines:
            run = dict(zip(keys, line.split()))
            run["rps"] = float(run["rps"])
            run["p50"], run["p99"] = ms(run["p50"]), ms(run["p99"])
            for key in ("requests", "bad", "errors", "delivered", "failed", "cpu", "flow_cpu", "kept",
                        "drained_cpu", "drain_ms", "dups"):
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
    if run["dups"]:
        return f"{run['dups']} answered as duplicates: event ids repeated"
    if run["drain_ms"] < 0:
        return "its backlog did not drain"
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


def drained_per_request(run: dict, tick_us: float) -> float:
    """The server's CPU µs per request from the run's start until its backlog drained."""
    return run["drained_cpu"] * tick_us / max(run["requests"], 1)


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
        drained = f" ({drained_per_request(r, tick_us):.0f} drained)" if r["drained_cpu"] else ""
        print(
            f"| {r['round']} | {r['name']} | {thousands(r['rps'])} | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {bad} "
            f"| {ratio(r['rps'], nginx['rps'] if nginx else 0)} | {ratio(r['rps'], proxy['rps'] if proxy else 0)} "
            f"| {ratio(r['p99'], nginx['p99'] if nginx else 0)} | {server:.0f}{drained} + {flow:.0f} µs | {rss} "
            f"| {delivered} |"
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


def read_backlog(path: str) -> dict:
    keys = ("target requests accepted rps p50 p99 bad errors cpu rss db db_all stop_ms ready_ms rss_after "
            "hwm_after pending probe").split()
    with open(path) as lines:
        fields = lines.read().split()
    if not fields:
        return {}
    run = dict(zip(keys, fields))
    for key in ("target", "requests", "accepted", "bad", "errors", "cpu", "stop_ms", "pending"):
        run[key] = int(run[key])
    for key in ("rps", "rss", "db", "db_all", "ready_ms", "rss_after", "hwm_after"):
        run[key] = float(run[key])
    run["p50"], run["p99"] = ms(run["p50"]), ms(run["p99"])
    return run


def backlog_insane(run: dict, mode: str) -> str:
    """Why the backlog run means nothing, or '' when it is sane."""
    if run["requests"] <= 0:
        return "no requests answered"
    if run["bad"] or run["errors"]:
        return f"{run['bad']} non-2xx answers, {run['errors']} socket errors"
    if run["probe"] != "202":
        return f"a probe answered {run['probe']}, expected 202"
    if run["pending"] < run["accepted"]:
        return f"{run['accepted']} accepted, {run['pending']} in the queue after the restart"
    if mode == "smoke" and run["requests"] < run["target"]:
        return f"{run['requests']} of {run['target']} webhooks sent before the time cap"
    return ""


def backlog_table(run: dict, tick_us: float) -> None:
    if not run:
        return
    capped = "" if run["requests"] >= run["target"] else f" (time cap: {thousands(run['target'])} asked)"
    print("\n| backlog | accepted | ingest req/s | p50 | p99 | CPU/req | peak RSS | database (with WAL) | stop "
          "| ready with it pending | RSS then (peak) | queued then |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {thousands(run['requests'])} webhooks{capped} | {thousands(run['accepted'])} | {thousands(run['rps'])} "
        f"| {run['p50']:.2f} ms | {run['p99']:.2f} ms | {run['cpu'] * tick_us / max(run['requests'], 1):.0f} µs "
        f"| {run['rss']:.0f} MiB | {run['db']:.0f} ({run['db_all']:.0f}) MiB | {run['stop_ms']} ms | {run['ready_ms']:.0f} ms "
        f"| {run['rss_after']:.0f} ({run['hwm_after']:.0f}) MiB | {thousands(run['pending'])} |"
    )


def per_round(runs: list, name: str, value) -> list:
    """(the scenario's value, nginx's) in each round that ran both."""
    nginx = {r["round"]: r for r in runs if r["name"] == "nginx"}
    return [(value(r), value(nginx[r["round"]])) for r in runs if r["name"] == name and r["round"] in nginx]


def judged(label: str, pairs: list, limit: float, shown) -> None:
    """One target: the measured value, nginx's and their ratio (each the median over rounds, with
    its range), judged on the median ratio (≤ limit); with no nginx value (None), on the value
    itself (< limit)."""
    if not pairs:
        print(f"| {label} | not run | – | – | – |")
        return
    values = [v for v, _ in pairs]
    if pairs[0][1] is None:
        middle, base, ratios = statistics.median(values), "–", "–"
        met = middle < limit
    else:
        quotients = [v / b if b > 0 else float("inf") for v, b in pairs]
        met = statistics.median(quotients) <= limit
        base = spread([b for _, b in pairs], shown)
        ratios = spread(quotients, lambda x: f"{x:.2f}×")
    print(f"| {label} | {spread(values, shown)} | {base} | {ratios} | {'met' if met else '**not met**'} |")


def targets(runs: list, starts: list, backlog: dict, tick_us: float) -> None:
    """The performance goals: CPU per request against nginx's processes' in the same round."""
    cpu = lambda r: cpu_per_request(r, tick_us)[0]  # noqa: E731
    drained = lambda r: drained_per_request(r, tick_us) if r["name"] == "full" else cpu(r)  # noqa: E731
    us = lambda v: f"{v:.1f} µs"  # noqa: E731
    peaks = [(float(r["rss"]), r["name"]) for r in runs if r["rss"] != "-"]
    if backlog:
        peaks += [(backlog["rss"], "backlog"), (backlog["hwm_after"], "backlog, restarted")]
    print("\n| target | measured | nginx | ratio | status |\n|---|---:|---:|---:|---|")
    judged("`paced` CPU/request ≤ 2× nginx's", per_round(runs, "paced", cpu), 2.0, us)
    judged("`full` CPU/request until its backlog drained ≤ 3× nginx's", per_round(runs, "full", drained), 3.0, us)
    judged("`sync` CPU/request ≤ 3× nginx's", per_round(runs, "sync", cpu), 3.0, us)
    judged("`rejected` CPU/request ≤ 0.6× nginx's", per_round(runs, "rejected", cpu), 0.6, us)
    judged("queued ingest (`full`) p99 ≤ 3× nginx's p99", per_round(runs, "full", lambda r: r["p99"]), 3.0,
           lambda v: f"{v:.2f} ms")
    if peaks:
        top, where = max(peaks)
        judged(f"peak RSS < 64 MiB in every run (largest: {where})", [(top, None)], 64, lambda v: f"{v:.0f} MiB")
    else:
        judged("peak RSS < 64 MiB in every run", [], 64, str)
    judged("ready < 200 ms (median start-up, fresh database)",
           [(statistics.median(s[0] for s in starts), None)] if starts else [], 200, lambda v: f"{v:.0f} ms")
    pending = f"{thousands(backlog['pending'])} pending" if backlog else "the backlog pending"
    judged(f"ready < 200 ms with {pending}", [(backlog["ready_ms"], None)] if backlog else [], 200,
           lambda v: f"{v:.0f} ms")


def report(results: str, starts_path: str, mode: str, clock_ticks: str, backlog_path: str) -> None:
    runs = read_runs(results)
    backlog = read_backlog(backlog_path)
    with open(starts_path) as lines:
        starts = [tuple(map(float, line.split())) for line in lines if line.strip()]
    print()
    tick_us = 1_000_000 / float(clock_ticks)
    table(runs, tick_us)
    tls_table(runs, tick_us)
    keeping_table(runs, tick_us)
    backlog_table(backlog, tick_us)
    if starts:
        ready_ms = [s[0] for s in starts]
        print(
            f"\nStart-up, {len(starts)} starts on a fresh database: ready (exec to `/readyz` 200) median "
            f"{statistics.median(ready_ms):.0f} ms ({min(ready_ms):.0f} to {max(ready_ms):.0f}); idle RSS "
            f"median {statistics.median(s[1] for s in starts):.1f} MiB."
        )
    failures = [f"{r['round']} {r['name']}: {why}" for r in runs if (why := insane(r))]
    if backlog and (why := backlog_insane(backlog, mode)):
        failures.append(f"backlog: {why}")
    if mode != "smoke":
        targets(runs, starts, backlog, tick_us)
    for failure in failures:
        print(f"not sane: {failure}", file=sys.stderr)
    if failures or not starts:
        sys.exit(1)


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    {"ready": ready, "totals": totals, "report": report}[verb](*args)
