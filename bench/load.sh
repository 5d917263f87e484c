#!/usr/bin/env bash
# Load on the release binary, on loopback only, bounded in time: the cost of accepting a signed,
# schema-valid webhook against GET /ping (the same server's cheapest route) in the same run.
# Needs wrk (Debian package `wrk`) and openssl. Usage: bench/load.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked --quiet
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen="127.0.0.1:$(port)"
cat > "$work/config.toml" <<TOML
[server]
listen = "$listen"
admin_listen = "127.0.0.1:$(port)"
[log]
level = "warn"
[vendors.bench]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
TOML
body='{"id":"evt-1","orderId":"9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f","state":"Completed","status":"Photos delivered","title":"Photo package M","actionText":"Open","metadata":[{"key":"Photographer","value":"Ann Berg"}]}'
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac bench-secret | sed 's/^.* //')
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Hub-Signature-256"] = "sha256=$signature"
LUA

target/release/flowgate --config "$work/config.toml" serve 2>"$work/serve.log" &
pid=$!
for _ in $(seq 50); do curl -sf "http://$listen/ping" >/dev/null && break; sleep 0.1; done

# requests/s, p50 and p99 of one wrk run
run() { wrk -t2 -c64 -d"${seconds}s" --latency "$@" | awk '
  /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
  END {printf "%s %s %s %s\n", rps, p50, p99, bad ? bad : 0}'; }

printf '%-8s %-10s %12s %10s %10s %8s\n' round route req/s p50 p99 non-2xx
for round in 1 2; do
  read -r ping_rps ping_p50 ping_p99 ping_bad < <(run "http://$listen/ping")
  read -r hook_rps hook_p50 hook_p99 hook_bad < <(run -s "$work/post.lua" "http://$listen/webhooks/bench")
  printf '%-8s %-10s %12s %10s %10s %8s\n' "$round" ping "$ping_rps" "$ping_p50" "$ping_p99" "$ping_bad"
  printf '%-8s %-10s %12s %10s %10s %8s\n' "$round" webhook "$hook_rps" "$hook_p50" "$hook_p99" "$hook_bad"
  python3 -c "import sys; print(f'         webhook/ping = {float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$hook_rps" "$ping_rps"
done
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
