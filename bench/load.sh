#!/usr/bin/env bash
# Load on the release binary, on loopback only, bounded in time: the cost of a signed,
# schema-valid webhook delivered in sync (one updatestate to an instant Flow,
# bench/instant_upstream.rs) and of a webhook with a bad signature, each against GET /ping (the
# same server's cheapest route) in the same run. The tenant's rate limit is set high so the
# gateway's own bucket never waits.
# Needs wrk (Debian package `wrk`) and openssl. Usage: bench/load.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked --quiet --bin flowgate --example instant-upstream
work=$(mktemp -d)
trap 'kill "$pid" "$upstream_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen="127.0.0.1:$(port)"
upstream="127.0.0.1:$(port)"
cat > "$work/config.toml" <<TOML
[server]
listen = "$listen"
admin_listen = "127.0.0.1:$(port)"
[log]
level = "warn"
[tenants.bench]
base_url = "http://$upstream/flow"
auth = { kind = "client_credentials", client_id = "bench", client_secret = "bench" }
rate_limit = { per_second = 10000000, burst = 10000000 }
[vendors.bench]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "bench"
TOML
# 1000 distinct orders, each body signed, rotated by wrk (one order would serialise: calls for one
# order take turns); the forged set carries a wrong signature.
python3 - "$work" <<'PY'
import hashlib, hmac, json, sys, uuid
work = sys.argv[1]
def lua(name, forged):
    with open(f"{work}/{name}.lua", "w") as out:
        out.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal bodies, signatures, n = {}, {}, 0\n')
        for i in range(1000):
            body = json.dumps({"id": f"evt-{i}", "orderId": str(uuid.UUID(int=i + 1)), "state": "Completed",
                               "status": "Photos delivered to the broker, 24 images in high resolution, ready for the listing"},
                              separators=(",", ":"))
            mac = "0" * 64 if forged else hmac.new(b"bench-secret", body.encode(), hashlib.sha256).hexdigest()
            out.write(f"bodies[{i + 1}] = {json.dumps(body)}\nsignatures[{i + 1}] = \"sha256={mac}\"\n")
        out.write('request = function()\n  n = n % 1000 + 1\n  wrk.headers["X-Hub-Signature-256"] = signatures[n]\n  return wrk.format(nil, nil, nil, bodies[n])\nend\n')
lua("post", False)
lua("forged", True)
PY

target/release/examples/instant-upstream "$upstream" &
upstream_pid=$!

target/release/flowgate --config "$work/config.toml" serve 2>"$work/serve.log" &
pid=$!
for _ in $(seq 50); do curl -sf "http://$listen/ping" >/dev/null && break; sleep 0.1; done

# requests/s, p50 and p99 of one wrk run
run() { wrk -t2 -c64 -d"${seconds}s" --latency "$@" | awk '
  /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
  END {printf "%s %s %s %s\n", rps, p50, p99, bad ? bad : 0}'; }

printf '%-6s %-10s %12s %10s %10s %8s %7s\n' round route req/s p50 p99 non-2xx /ping
for round in 1 2; do
  read -r ping_rps ping_p50 ping_p99 ping_bad < <(run "http://$listen/ping")
  printf '%-6s %-10s %12s %10s %10s %8s %7s\n' "$round" ping "$ping_rps" "$ping_p50" "$ping_p99" "$ping_bad" 1.00
  for scenario in post:sync forged:rejected; do
    read -r rps p50 p99 bad < <(run -s "$work/${scenario%%:*}.lua" "http://$listen/webhooks/bench")
    ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$rps" "$ping_rps")
    printf '%-6s %-10s %12s %10s %10s %8s %7s\n' "$round" "${scenario##*:}" "$rps" "$p50" "$p99" "$bad" "$ratio"
  done
done
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
