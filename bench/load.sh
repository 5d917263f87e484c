#!/usr/bin/env bash
# Load on the release binary, on loopback only, bounded in time. Beside flowgate runs the
# baseline a platform team would compare with: a bare hyper proxy (bench/bare_proxy.rs)
# forwarding the same webhook to the same instant Flow (bench/instant_upstream.rs). Scenarios:
#   proxy     the bare proxy forwarding the webhook (the baseline; ratios are against it)
#   sync      flowgate delivering each webhook inside the request (one updatestate)
#   full      flowgate queued, store.sync = "full": 202 after a durable commit
#   normal    flowgate queued, store.sync = "normal"
#   paced     as full, the tenant at its default budget (36/s): durable ingest while the workers
#             deliver at the pace a real Flow allows
#   rejected  flowgate refusing a bad signature (401)
#   ping      flowgate's cheapest route
# Every scenario runs on a fresh gateway and database, so no run inherits another's backlog;
# queued runs also deliver what they accept to the instant Flow while they run. Vendors
# use dedup = "off" because wrk replays 1000 pre-signed bodies; the tenant's rate limit is high
# so the gateway's own bucket never waits.
# Needs wrk (Debian package `wrk`) and python3. Usage: bench/load.sh [seconds per run, default 10];
# SCENARIOS="full paced" runs only those beside the proxy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked --quiet --bin flowgate --example instant-upstream --example bare-proxy
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.05; done; echo "$1 never answered" >&2; exit 1; }
upstream="127.0.0.1:$(port)"
proxy="127.0.0.1:$(port)"

# 1000 distinct orders, each body signed, rotated by wrk (one order would serialise: calls for
# one order take turns); the forged set carries a wrong signature.
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

target/release/examples/instant-upstream "$upstream" & pids+=($!)
target/release/examples/bare-proxy "$proxy" "$upstream" & pids+=($!)

# A fresh gateway on a fresh database; sets $gw_pid and $gw.
gateway() { # $1 = store.sync
  local dir listen="127.0.0.1:$(port)" admin="127.0.0.1:$(port)"
  dir=$(mktemp -d "$work/gw.XXXX")
  cat > "$dir/config.toml" <<TOML
[server]
listen = "$listen"
admin_listen = "$admin"
[store]
sync = "$1"
[log]
level = "warn"
[tenants.bench]
base_url = "http://$upstream/flow"
auth = { kind = "client_credentials", client_id = "bench", client_secret = "bench" }
rate_limit = { per_second = 10000000, burst = 10000000 }
[tenants.paced]
base_url = "http://$upstream/paced/flow"
auth = { kind = "client_credentials", client_id = "paced", client_secret = "paced" }
[vendors.queued]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "bench"
dedup = "off"
[vendors.paced]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "paced"
dedup = "off"
[vendors.sync]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "bench"
dedup = "off"
delivery = "sync"
TOML
  target/release/flowgate --config "$dir/config.toml" serve 2>"$dir/serve.log" &
  gw_pid=$! gw=$listen
  pids+=("$gw_pid")
  up "http://$gw/ping"
}
stop() { # prints the gateway's peak RSS, then stops it
  awk '/VmHWM/ {print $2 / 1024}' "/proc/$gw_pid/status"
  kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true
}

# requests/s, p50 and p99 of one wrk run
run() { wrk -t2 -c64 -d"${seconds}s" --latency "$@" | awk '
  /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
  END {printf "%s %s %s %s\n", rps, p50, p99, bad ? bad : 0}'; }

up "http://$upstream/"; up "http://$proxy/"
printf '%-6s %-9s %12s %10s %10s %9s %8s %9s\n' round scenario req/s p50 p99 non-2xx /proxy "RSS MiB"
for round in 1 2; do
  read -r base_rps base_p50 base_p99 base_bad < <(run -s "$work/post.lua" "http://$proxy/webhooks/queued")
  printf '%-6s %-9s %12s %10s %10s %9s %8s %9s\n' "$round" proxy "$base_rps" "$base_p50" "$base_p99" "$base_bad" 1.00 -
  for scenario in "sync full /webhooks/sync post" "full full /webhooks/queued post" \
                  "normal normal /webhooks/queued post" "paced full /webhooks/paced post" \
                  "rejected full /webhooks/queued forged" \
                  "ping full /ping -"; do
    read -r name sync path script <<<"$scenario"
    [[ " ${SCENARIOS:-$name} " == *" $name "* ]] || continue
    if [ "$script" = "-" ]; then args=(); else args=(-s "$work/$script.lua"); fi
    gateway "$sync"
    read -r rps p50 p99 bad < <(run "${args[@]}" "http://$gw$path")
    rss=$(stop)
    ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$rps" "$base_rps")
    printf '%-6s %-9s %12s %10s %10s %9s %8s %9.0f\n' "$round" "$name" "$rps" "$p50" "$p99" "$bad" "$ratio" "$rss"
  done
done
