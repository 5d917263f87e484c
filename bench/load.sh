#!/usr/bin/env bash
# The load benchmark: release binaries on loopback only, every run bounded in time. flowgate and
# two baselines take the same ~600-byte signed webhooks and forward them to the same instant Flow
# (bench/instant_upstream.rs):
#   nginx     Debian's nginx, proxy_pass with keepalive to the upstream: what a team would
#             otherwise put in front of Flow
#   proxy     a bare hyper reverse proxy (bench/bare_proxy.rs): plain forwarding on flowgate's stack
# then flowgate, each scenario on a fresh gateway and a fresh database:
#   sync      delivered inside the request, one updatestate per webhook (one upstream call, as
#             the baselines make)
#   full      queued, store.sync = "full": 202 after a durable commit; 10 000 distinct orders
#   normal    queued, store.sync = "normal"
#   hot       as full, but every webhook is for one order (per-order FIFO at the workers)
#   postgres  as full, on PostgreSQL (FLOWGATE_BENCH_POSTGRES_URL, default the local server's
#             `test` database, in a schema of its own dropped afterwards); skipped with a
#             message when no server answers there
#   paced     as full, the tenant at its default budget (36 calls/s): durable ingest while the
#             workers deliver at a real Flow's pace instead of competing for the cores
#   backlog   BACKLOG webhooks (default 1 000 000; 20 000 with --smoke), each for its own order,
#             queued for a Flow that accepts connections and never answers, so nothing is
#             delivered; then the gateway is stopped and started again on the same database:
#             peak RSS during the ingest, the database's size, the stop, ready (exec to /readyz
#             200) and RSS with the backlog pending. Capped at BACKLOG_SECONDS (default 900) of
#             ingest; run once, after the rounds
#   rejected  a bad signature: 401
#   invalid-kept    correctly signed but schema-invalid (states the schema does not know): 422
#             `schema-violation`, each kept as a rejection with its body (the default
#             store.rejection_retention)
#   invalid-unkept  the same flood with store.rejection_retention = "0s": nothing kept, so the
#             difference between the two is what keeping one rejection costs
#   ping      GET /ping, the cheapest route
# and over TLS: the gateway serves [server.tls] with a self-signed ECDSA P-256 certificate made
# here with openssl for 127.0.0.1, and the same nginx terminates TLS with the same certificate and
# key on a second port (TLS 1.2 and 1.3 on both; each server's defaults otherwise), forwarding as
# above. wrk speaks HTTP/1.1 over TLS to both, verifying nothing and offering no ALPN; when it
# reconnects it resumes the connection's last session:
#   tls       as rejected, over TLS: the cheapest webhook path, so TLS's share of the CPU shows;
#             nginx forwards instead, so what compares is what TLS adds to each over its plain
#             run (the TLS table at the end). Connections are kept alive, so the handshakes are
#             amortised over the run: this is TLS's record layer
#   tls-full  as full, over TLS: the path an accepted webhook takes
#   tls-new   as tls, but every request on a new connection (Connection: close): a TCP connect
#             and a TLS 1.3 resumption (PSK with X25519, no certificate signature) per request
# The TLS baselines run in each round in which a TLS scenario does: nginx-tls (kept alive) beside
# tls and tls-full, nginx-tls-new (a new connection per request) beside tls-new.
# Plain HTTP load comes from bench/loadgen/ (64 kept-alive connections, two threads): every
# webhook signed anew with a fresh event id, so vendors keep dedup on, as deployed. Over TLS wrk
# replays the signed bodies, so tls-full posts to a vendor with dedup = "off". Queued scenarios
# deliver what they accept (a patch and an updatestate each) while they run; `full` is measured
# until its backlog drains (the gateway's accepted webhooks all counted delivered in /metrics).
# The `bench` tenant's rate limit is high so the gateway's own bucket never waits. Measured per
# run: req/s, p50, p99, non-2xx, ratios to nginx (over TLS, to nginx over TLS the same way) and
# to the proxy, the CPU time per request of the server (the gateway, nginx's master and workers,
# or the proxy) and of the instant Flow, the gateway's peak RSS (VmHWM) and the deliveries it
# completed; before the load, start-up time from exec to /readyz 200 (median of several starts)
# and idle RSS. At the end, the TLS runs' CPU per request against nginx's and against the same
# path in plain HTTP, what keeping a rejection costs (invalid-kept against invalid-unkept in the
# same round), the backlog, then the targets: the gateway's CPU per request against nginx's in
# the same round (paced ≤ 2×, full until drained ≤ 3×, sync ≤ 3×, rejected ≤ 0.6×), full's p99
# ≤ 3× nginx's, peak RSS < 64 MiB in every run and ready < 200 ms, also with the backlog.
#
# Usage: bench/load.sh [SECONDS]   seconds per run (default 10), each after a WARMUP (default 2 s)
#        bench/load.sh --smoke     (or SMOKE=1) 1 s per run, no warm-up: exits 1 unless every run
#                                  answered as expected; never judges the targets
#        bench/load.sh --instructions   instructions per request instead, counted by callgrind
#                                  (valgrind) in nginx, the bare proxy and the gateway, REQUESTS
#                                  (default 2000) per scenario sent one at a time by loadgen
#                                  (fresh event ids, so dedup on): repeatable on a busy
#                                  machine, where req/s and CPU time are not (plain HTTP only)
# SCENARIOS="full hot" runs only those flowgate scenarios (the plain baselines always run);
# ROUNDS=N repeats every run N times (the targets then take the median ratio); FLOWGATE_BIN=PATH
# measures that gateway binary instead of this checkout's release build (a before/after in one
# run). SCENARIOS="rejected full tls tls-full tls-new" ROUNDS=3 compares TLS in both servers;
# SCENARIOS="invalid-kept invalid-unkept" ROUNDS=3 measures what keeping rejections costs.
# SCENARIOS=backlog BACKLOG=200000 measures the backlog alone (beside the baselines).
# Installs what is missing (wrk, nginx, curl, openssl, python3, and valgrind for --instructions)
# with apt-get, through sudo when not root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
smoke="${SMOKE:-0}" seconds=10 counting=0
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --instructions) counting=1 ;;
    [1-9]*) seconds="$arg" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
if [ "$smoke" = 1 ]; then seconds=1 warmup=0 starts=3 settle=0.2 mode=smoke
else warmup="${WARMUP:-2}" starts=7 settle=1 mode=full; fi
rounds="${ROUNDS:-1}"
if [ "$smoke" = 1 ]; then backlog="${BACKLOG:-20000}" backlog_cap="${BACKLOG_SECONDS:-120}"
else backlog="${BACKLOG:-1000000}" backlog_cap="${BACKLOG_SECONDS:-900}"; fi
began=$SECONDS

missing=()
for tool in wrk curl openssl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "$counting" = 1 ]; then command -v valgrind >/dev/null || missing+=(valgrind); fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked --quiet --bin flowgate --example instant-upstream --example bare-proxy \
  --example loadgen
flowgate="${FLOWGATE_BIN:-target/release/flowgate}"
built=$SECONDS
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# curl checks the TLS servers' certificate against the one made below.
up() { for _ in $(seq 200); do curl -s -o /dev/null --cacert "$cert" "$1" && return; sleep 0.05; done; echo "$1 never answered" >&2; exit 1; }
upstream="127.0.0.1:$(port)" proxy="127.0.0.1:$(port)" edge="127.0.0.1:$(port)" tls_edge="127.0.0.1:$(port)"

# The certificate both TLS servers serve: self-signed, ECDSA P-256, for 127.0.0.1.
cert="$work/tls/cert.pem" key="$work/tls/key.pem"
mkdir "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$key" -out "$cert" 2>/dev/null

# 10 000 orders, each body signed (one order would serialise its deliveries: see `hot`); the
# forged set carries wrong signatures.
python3 bench/bodies.py "$work"

target/release/examples/instant-upstream "$upstream" & pids+=($!)
upstream_pid=$!
target/release/examples/bare-proxy "$proxy" "$upstream" & pids+=($!)
proxy_pid=$!
# A Flow that accepts connections and never answers (--instructions' ingest, and backlog).
silent="127.0.0.1:$(port)"
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(3600)' "${silent#*:}" &
pids+=($!)

# nginx runs one worker per core (auto = 2), like flowgate's runtime, which runs one tokio worker
# per core: one worker would cap the baseline at half the machine. Connections are never recycled
# (keepalive_requests), as they are not in flowgate or the bare proxy.
# With TLS_LISTEN, a second server terminates TLS there with the gateway's certificate and
# forwards the same way. It offers TLS 1.2 and 1.3, as the gateway does (Debian's nginx 1.22 would
# offer 1.0 to 1.2 by default, not 1.3); its defaults otherwise (session tickets on, no cache).
nginx_conf() { # DIR LISTEN [TLS_LISTEN]: nginx's configuration, written to DIR/nginx.conf
  mkdir -m 755 "$1"
  cat > "$1/nginx.conf" <<NGINX
worker_processes auto;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  keepalive_requests 1000000;
  upstream flow {
    server $upstream;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen $2;
    location / {
      proxy_pass http://flow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
$(if [ -n "${3:-}" ]; then cat <<TLS
  server {
    listen $3 ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    location / {
      proxy_pass http://flow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
TLS
fi)
}
NGINX
}
nginx_conf "$work/nginx" "$edge" "$tls_edge"
"$nginx" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_pid=$!

pg_url="${FLOWGATE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_schema="flowgate_bench_$$"

# Writes a fresh gateway's configuration into $1 for store.sync = $2 ("postgres": a queued
# store on PostgreSQL instead, in a fresh schema), serving TLS when $3 is "tls", with the
# `[store]` line $4 when given; sets $gw and $gw_admin.
configure() {
  gw="127.0.0.1:$(port)" gw_admin="127.0.0.1:$(port)"
  local store="sync = \"$2\"" tls=""
  if [ "${3:-}" = tls ]; then
    tls="[server.tls]
cert_file = \"$cert\"
key_file = \"$key\""
  fi
  if [ "$2" = postgres ]; then
    psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $pg_schema CASCADE" 2>/dev/null
    store="url = \"$pg_url\"
schema = \"$pg_schema\""
  fi
  cat > "$1/config.toml" <<TOML
[server]
listen = "$gw"
admin_listen = "$gw_admin"
$tls
[store]
$store
${4:-}
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
dedup = "event-id"
[vendors.paced]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "paced"
dedup = "event-id"
# As queued, for wrk's replays over TLS: a replayed body would answer as a duplicate.
[vendors.replayed]
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "bench"
dedup = "off"
# The same envelope, checked against the same schema, but mapped to its state and status only:
# one updatestate per webhook.
[vendors.sync]
schema = "$PWD/schemas/flow-order-update.schema.json"
verify = { scheme = "hmac", preset = "github", secrets = ["bench-secret"] }
tenant = "bench"
dedup = "event-id"
delivery = "sync"
[vendors.sync.map]
event_id = "/id"
order_id = "/orderId"
state = "/state"
status = "/status"
TOML
}

# The `[store]` line the scenario $1 adds to its gateway's configuration: invalid-unkept keeps
# no rejection.
store_line() { if [ "$1" = invalid-unkept ]; then echo 'rejection_retention = "0s"'; fi; }

# Starts a fresh gateway on a fresh database; sets $gw_pid and $gw.
gateway() { # STORE_SYNC SCHEME [STORE_LINE]: SCHEME https serves TLS; STORE_LINE goes in [store]
  local dir
  dir=$(mktemp -d "$work/gw.XXXX")
  configure "$dir" "$1" "$([ "$2" = https ] && echo tls)" "${3:-}"
  "$flowgate" --config "$dir/config.toml" serve 2>"$dir/serve.log" &
  gw_pid=$!
  pids+=("$gw_pid")
  up "$2://$gw/ping"
}
stop() { # sets $rss to the gateway's peak RSS in MiB, then stops it and waits for its exit
  rss=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$gw_pid/status")
  kill "$gw_pid"; wait "$gw_pid" 2>/dev/null || true
}

# The HTTP status of one request of the set $2 ("-" for a GET) to $1.
probe() {
  if [ "$2" = "-" ]; then curl -s -o /dev/null -w '%{http_code}' --cacert "$cert" "$1"; return; fi
  curl -s -o /dev/null -w '%{http_code}' --cacert "$cert" -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: $(cat "$work/$2.sig")" --data-binary "@$work/$2.json" "$1"
}

# What wrk's TLS library (OpenSSL, through its s_client) gets from the TLS server at $1: the
# protocol, cipher and key exchange, the certificate's SHA-256 fingerprint (its start), and
# whether a second connection resumes the first's session.
tls_params() { # HOST:PORT
  local request='GET /ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' first second
  # shellcheck disable=SC2059 # the request's escapes are printf's
  first=$(printf "$request" | openssl s_client -connect "$1" -sess_out "$work/tls/session" -ign_eof 2>&1)
  # shellcheck disable=SC2059
  second=$(printf "$request" | openssl s_client -connect "$1" -sess_in "$work/tls/session" -ign_eof 2>&1)
  printf '%s, %s, certificate %s, %s\n' \
    "$(awk '/^New, / {sub(",$", "", $2); print $2, $5}' <<<"$first")" \
    "$(awk -F': ' '/Server Temp Key/ {split($2, k, ","); print k[1]}' <<<"$first")" \
    "$(openssl x509 -noout -fingerprint -sha256 <<<"$first" | cut -d= -f2 | cut -c1-11)" \
    "$(grep -q '^Reused, ' <<<"$second" && echo 'resumes sessions' || echo 'resumes no session')"
}

# CPU time (user + system, in clock ticks) the processes $@ have used so far.
ticks() { for pid in "$@"; do awk '{print $14 + $15}' "/proc/$pid/stat"; done | awk '{t += $1} END {print t + 0}'; }

# bench/loadgen/ against the plain-HTTP URL $1 with the set $2 ("-" for GETs; "forged" signs
# every webhook wrongly), given the options $3...: "rps p50 p99 requests non-2xx socket-errors".
generate() { # URL SET [LOADGEN OPTIONS...]
  local set="-" args=()
  if [ "$2" != "-" ]; then set="$work/$2.jsonl"; fi
  if [ "$2" = forged ]; then args=(--forge); fi
  target/release/examples/loadgen "$1" "$set" "${args[@]}" "${@:3}" | awk '
    {for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)}
    END {printf "%s %s %s %d %d %d\n", v["rps"] + 0, v["p50"], v["p99"], v["requests"],
         v["3xx"] + v["4xx"] + v["5xx"] + v["other"], v["errors"]}'
}

# wrk over TLS against $1 with the set $2, for $3 seconds (a new connection per request with
# "new" as $4): the same fields as generate's.
replay() { # URL SET SECONDS [new]
  local args=()
  if [ "$2" != "-" ]; then args=(-s "$work/$2.lua"); fi
  if [ "${4:-}" = new ]; then args+=(-H "Connection: close"); fi
  wrk -t2 -c64 -d"${3}s" --timeout 5s --latency "${args[@]}" "$1" | awk '
    /Requests\/sec/ {rps = $2} /^ +50%/ {p50 = $2} /^ +99%/ {p99 = $2} / requests in / {n = $1}
    /Non-2xx/ {bad = $NF} /Socket errors/ {gsub(",", ""); errors = $4 + $6 + $8 + $10}
    END {printf "%s %s %s %d %d %d\n", rps ? rps : 0, p50 ? p50 : "-", p99 ? p99 : "-", n, bad, errors}'
}

# Waits until the gateway has delivered every webhook it accepted (or a Flow call or delivery
# failed), polling its /metrics; prints the ms it waited, or -1 after DRAIN_SECONDS (default 300).
drained() {
  local began delivered failed accepted
  began=$(date +%s%N)
  for _ in $(seq $(( ${DRAIN_SECONDS:-300} * 10 ))); do
    read -r delivered failed _ accepted _ < <(deliveries)
    if [ "$delivered" -ge "$accepted" ] || [ "$failed" -gt 0 ]; then
      echo $(( ($(date +%s%N) - began) / 1000000 ))
      return
    fi
    sleep 0.1
  done
  echo -1
}

# One measured run after the warm-up: the fields of generate (plain HTTP) or replay (TLS), then
# the CPU ticks the server's processes ($3) and the instant Flow spent during it, then, with
# "drain" as $4, the server's ticks from the run's start until its backlog drained and the ms
# that took after the run (the backlog of the warm-up is drained before the run starts).
load() { # URL SET "PIDS" [new|drain]
  local server flow measured cpu flow_cpu drain_ms=0 drained_cpu=0
  if [[ $1 == https://* ]]; then
    if [ "$warmup" != 0 ]; then replay "$1" "$2" "$warmup" "${4:-}" >/dev/null; fi
  elif [ "$warmup" != 0 ]; then
    generate "$1" "$2" -d "$warmup" >/dev/null
  fi
  if [ "${4:-}" = drain ]; then drained >/dev/null; fi
  # shellcheck disable=SC2086 # $3 is a list of pids
  server=$(ticks $3) flow=$(ticks "$upstream_pid")
  if [[ $1 == https://* ]]; then measured=$(replay "$1" "$2" "$seconds" "${4:-}")
  else measured=$(generate "$1" "$2" -d "$seconds"); fi
  # shellcheck disable=SC2086
  cpu=$(( $(ticks $3) - server )) flow_cpu=$(( $(ticks "$upstream_pid") - flow ))
  if [ "${4:-}" = drain ]; then
    drain_ms=$(drained)
    # shellcheck disable=SC2086
    drained_cpu=$(( $(ticks $3) - server ))
  fi
  echo "$measured $cpu $flow_cpu $drained_cpu $drain_ms"
}

# The gateway's deliveries so far: delivered, then failed (Flow calls not answered 2xx,
# deliveries retried or dead), the rejections it kept, the webhooks it accepted (queued, or
# delivered in the request) and those it answered as duplicates. Nothing should fail against the
# instant Flow, and with fresh event ids nothing is a duplicate.
deliveries() {
  curl -s "http://$gw_admin/metrics" | awk '
    /^flowgate_deliveries_total/ && /result="delivered"/ {done += $NF}
    /^flowgate_deliveries_total/ && /result="(dead|retried)"/ {failed += $NF}
    /^flowgate_flow_requests_total/ && !/status_class="2xx"/ {failed += $NF}
    /^flowgate_rejections_stored_total/ {kept += $NF}
    /^flowgate_webhooks_received_total/ && /outcome="(accepted|delivered)"/ {accepted += $NF}
    /^flowgate_webhooks_received_total/ && /outcome="duplicate"/ {dups += $NF}
    END {printf "%d %d %d %d %d\n", done, failed, kept, accepted, dups}'
}

# A NAME ending in -new opens a new connection for every request.
record() { # ROUND NAME URL SET EXPECTED [gateway: count its deliveries, read its peak RSS, stop it]
  local status rps p50 p99 n bad errors cpu flow_cpu drained_cpu drain_ms rss=- delivered=0 failed=0 kept=0
  local dups=0 server how=""
  case "$2" in
    nginx*) server="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" ;;
    proxy) server=$proxy_pid ;;
    *) server=$gw_pid ;;
  esac
  if [[ $2 == *-new ]]; then how=new; elif [ "$2" = full ]; then how=drain; fi
  status=$(probe "$3" "$4")
  read -r rps p50 p99 n bad errors cpu flow_cpu drained_cpu drain_ms < <(load "$3" "$4" "$server" "$how")
  if [ "${6:-}" = gateway ]; then
    read -r delivered failed kept _ dups < <(deliveries)
    stop
  fi
  echo "$1 $2 $rps $p50 $p99 $n $bad $errors $rss $5 $status $delivered $failed $cpu $flow_cpu $kept" \
    "$drained_cpu $drain_ms $dups" >> "$work/results"
  printf '%-14s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$2" "$rps" "$p50" "$p99" "$bad" >&2
}

# The backlog scenario: $backlog webhooks, each for an order of its own, into a gateway whose
# Flow never answers (so nothing is delivered), at most $backlog_cap s; its peak RSS then, and
# its database's size (the file, then with its WAL) after a stop; then a start on that database
# with all of them pending: ready (exec to /readyz 200), RSS and the queue 2 s later. One line in
# $work/backlog.
fill_backlog() {
  local dir status rps p50 p99 n bad errors cpu accepted db began stop_ms ready_ms rss_after hwm depth
  dir=$(mktemp -d "$work/gw.XXXX")
  configure "$dir" full "" "max_pending = $(( backlog * 2 + 1000 ))"
  # The stop waits 1 s, not the default 10 s, for the attempts hanging on the silent Flow.
  sed -i -e "s|http://$upstream/flow|http://$silent/flow|" \
    -e '/^\[server\]$/a shutdown_grace = "1s"' "$dir/config.toml"
  "$flowgate" --config "$dir/config.toml" serve 2>"$dir/serve.log" &
  gw_pid=$!
  pids+=("$gw_pid")
  up "http://$gw/ping"
  status=$(probe "http://$gw/webhooks/queued" post)
  cpu=$(ticks "$gw_pid")
  read -r rps p50 p99 n bad errors < <(generate "http://$gw/webhooks/queued" post -n "$backlog" \
    -d "$backlog_cap" --fresh-orders)
  cpu=$(( $(ticks "$gw_pid") - cpu ))
  read -r _ _ _ accepted _ < <(deliveries)
  began=$(date +%s%N)
  stop
  stop_ms=$(( ($(date +%s%N) - began) / 1000000 ))
  # The database file, then the whole directory (its WAL and the rest).
  db="$(stat -c %s "$dir/data/flowgate.db") $(du -sb "$dir/data" | cut -f1)"
  db=$(awk '{print $1 / 1048576, $2 / 1048576}' <<<"$db")
  read -r ready_ms rss_after hwm depth < <(python3 bench/load.py ready "$flowgate" "$dir/config.toml" \
    "$gw_admin" 2)
  echo "$backlog $n $accepted $rps $p50 $p99 $bad $errors $cpu $rss $db $stop_ms $ready_ms $rss_after $hwm" \
    "$depth $status" > "$work/backlog"
  printf '%-14s %10s req/s  p99 %-9s %s accepted, ready in %s ms with %s pending, RSS %s MiB\n' \
    backlog "$rps" "$p99" "$accepted" "$ready_ms" "$depth" "$rss_after" >&2
}

up "http://$upstream/"; up "http://$proxy/"; up "http://$edge/"; up "https://$tls_edge/"

# === --instructions: callgrind's count of what one request costs each server ===
# Requests go one at a time (loadgen on one connection), so a count is the server's own work and repeats
# from run to run. A queued webhook then commits alone: the group commit shares nothing, so its
# count is the most a commit can cost. The instant Flow is not counted, for any server. Each
# count is kept as target/callgrind/NAME.out, for `callgrind_annotate`.
requests="${REQUESTS:-2000}"
# The first delivery the counted gateway lists in the state $1, if any: its admin API, not its
# /metrics, whose process_* series crash it under valgrind (rustix reading the auxiliary vector).
listed() { # STATE
  curl -s -H 'Authorization: Bearer bench' "http://$gw_admin/admin/deliveries?state=$1&limit=1" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["deliveries"]))'
}
counted() { # NAME PID URL SET STATUS [drain: wait until all is delivered before the count ends]
  local sent=("$3" "$4" -c 1 -t 1 -d 3600 --timeout 60 --expect "$5")
  generate "${sent[@]}" -n 50 >/dev/null || { echo "$1: not every answer was $5" >&2; exit 1; } # warm-up
  callgrind_control -z "$2" >/dev/null 2>&1
  generate "${sent[@]}" -n "$requests" >/dev/null || { echo "$1: not every answer was $5" >&2; exit 1; }
  if [ -n "${6:-}" ]; then
    local open=1
    for _ in $(seq 600); do
      open=$(( $(listed pending) + $(listed in_flight) + $(listed retrying) ))
      [ "$open" = 0 ] && break
      sleep 0.5
    done
    if [ "$open" != 0 ] || [ "$(listed dead)" != 0 ]; then
      echo "$1: deliveries still open after 300 s, or dead" >&2; exit 1
    fi
  fi
  callgrind_control -d "$2" >/dev/null 2>&1
  cp "$work/$1.callgrind.1" "target/callgrind/$1.out"
  echo "$1 $(( $(python3 bench/load.py totals "$work/$1.callgrind.1") / requests ))" >> "$work/counts"
  kill "$2"; wait "$2" 2>/dev/null || true
  printf '%-9s %10s instructions per request\n' "$1" "$(tail -1 "$work/counts" | cut -d' ' -f2)" >&2
}
under_callgrind() { # NAME COMMAND...: starts COMMAND counted by callgrind; sets $counted_pid
  valgrind --tool=callgrind --callgrind-out-file="$work/$1.callgrind" "${@:2}" 2>"$work/$1.valgrind.log" &
  counted_pid=$!
  pids+=("$counted_pid")
}
ready_slowly() { # under valgrind a start takes seconds
  for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return; sleep 0.1; done
  echo "$1 never became ready" >&2; exit 1
}
if [ "$counting" = 1 ]; then
  : > "$work/counts"
  mkdir -p target/callgrind
  echo "instructions: $requests requests per scenario, one at a time, after 50 not counted" >&2
  nginx_conf "$work/nginx-counted" "127.0.0.1:$(port)"
  counted_edge=$(awk '/listen/ {sub(";", "", $2); print $2}' "$work/nginx-counted/nginx.conf")
  under_callgrind nginx "$nginx" -p "$work/nginx-counted" -e "$work/nginx-counted/error.log" \
    -c "$work/nginx-counted/nginx.conf" -g 'daemon off; master_process off;'
  ready_slowly "http://$counted_edge/"
  counted nginx "$counted_pid" "http://$counted_edge/webhooks/queued" post 200
  counted_proxy="127.0.0.1:$(port)"
  under_callgrind proxy target/release/examples/bare-proxy "$counted_proxy" "$upstream"
  ready_slowly "http://$counted_proxy/"
  counted proxy "$counted_pid" "http://$counted_proxy/webhooks/queued" post 200
  # ingest: queued, with one worker stuck on a Flow that accepts connections and never answers,
  # so nothing is claimed and the count is the accept and the commit alone; paused: the same
  # with the tenant paused instead, so every commit's claim skips a growing backlog (its count
  # grows with REQUESTS if a claim steps over that backlog); full: the same webhooks delivered
  # too (a patch and an updatestate each); invalid-kept and invalid-unkept: refused by the
  # schema, each kept (committed alone) or not.
  for scenario in "sync /webhooks/sync post 200" "ingest /webhooks/queued post 202" \
                  "paused /webhooks/queued post 202" "full /webhooks/queued post 202" \
                  "rejected /webhooks/queued forged 401" "invalid-kept /webhooks/queued invalid 422" \
                  "invalid-unkept /webhooks/queued invalid 422" "ping /ping - 200"; do
    read -r name path set expect <<<"$scenario"
    [[ " ${SCENARIOS:-$name} " == *" $name "* ]] || continue
    dir=$(mktemp -d "$work/gw.XXXX")
    configure "$dir" full "" "$(store_line "$name")"
    wait_for=""
    case "$name" in
      ingest) sed -i "s|http://$upstream/flow|http://$silent/flow|" "$dir/config.toml"
              printf '[delivery]\nworkers = 1\n' >> "$dir/config.toml" ;;
      full) wait_for=drain ;;
    esac
    printf '[admin]\ntoken_env = "FLOWGATE_BENCH_ADMIN_TOKEN"\n' >> "$dir/config.toml"
    FLOWGATE_BENCH_ADMIN_TOKEN=bench under_callgrind "$name" "$flowgate" --config "$dir/config.toml" serve
    ready_slowly "http://$gw_admin/readyz"
    if [ "$name" = paused ]; then
      curl -sf -o /dev/null -X POST -H 'Authorization: Bearer bench' \
        "http://$gw_admin/admin/tenants/bench/pause"
    fi
    counted "$name" "$counted_pid" "http://$gw$path" "$set" "$expect" "$wait_for"
  done
  echo "flowgate $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), $(date -u '+%F %H:%M') UTC;" \
    "valgrind $(valgrind --version | cut -d- -f2), $requests requests per scenario."
  awk 'NR == 1 {base = $2} {printf "| %s | %d | %.2f |\n", $1, $2, $2 / base}' "$work/counts" |
    sed '1i | server, scenario | instructions per request | × nginx |\n|---|---:|---:|'
  exit 0
fi
touch "$work/results" "$work/starts" "$work/backlog"
echo "start-up: $starts starts on fresh databases" >&2
for _ in $(seq "$starts"); do
  dir=$(mktemp -d "$work/start.XXXX")
  configure "$dir" full
  python3 bench/load.py ready "$flowgate" "$dir/config.toml" "$gw_admin" "$settle" >> "$work/starts"
done
echo "load: ${seconds} s per run after ${warmup} s of warm-up, loadgen (wrk over TLS) -t2 -c64" >&2
selected() { [[ " ${SCENARIOS:-$1} " == *" $1 "* ]]; }
for round in $(seq "$rounds"); do
  record "$round" nginx "http://$edge/webhooks/queued" post 200
  record "$round" proxy "http://$proxy/webhooks/queued" post 200
  if selected tls || selected tls-full || selected tls-new; then
    [ -s "$work/tls/nginx" ] || tls_params "$tls_edge" > "$work/tls/nginx"
  fi
  if selected tls || selected tls-full; then
    record "$round" nginx-tls "https://$tls_edge/webhooks/queued" post 200
  fi
  if selected tls-new; then
    record "$round" nginx-tls-new "https://$tls_edge/webhooks/queued" post 200
  fi
  for scenario in "sync full http /webhooks/sync post 200" "full full http /webhooks/queued post 202" \
                  "normal normal http /webhooks/queued post 202" "hot full http /webhooks/queued hot 202" \
                  "postgres postgres http /webhooks/queued post 202" \
                  "paced full http /webhooks/paced post 202" \
                  "rejected full http /webhooks/queued forged 401" \
                  "invalid-kept full http /webhooks/queued invalid 422" \
                  "invalid-unkept full http /webhooks/queued invalid 422" \
                  "ping full http /ping - 200" \
                  "tls full https /webhooks/queued forged 401" \
                  "tls-full full https /webhooks/replayed post 202" \
                  "tls-new full https /webhooks/queued forged 401"; do
    read -r name sync scheme path set expect <<<"$scenario"
    selected "$name" || continue
    if [ "$sync" = postgres ] && ! pg_isready -q -d "$pg_url"; then
      echo "postgres: skipped, no PostgreSQL answers at $pg_url" >&2
      continue
    fi
    gateway "$sync" "$scheme" "$(store_line "$name")"
    if [ "$scheme" = https ] && [ ! -s "$work/tls/flowgate" ]; then
      tls_params "$gw" > "$work/tls/flowgate"
    fi
    record "$round" "$name" "$scheme://$gw$path" "$set" "$expect" gateway
  done
done
if selected backlog; then
  echo "backlog: $backlog webhooks for a Flow that never answers (at most $backlog_cap s), then a restart" >&2
  fill_backlog
fi
if pg_isready -q -d "$pg_url" 2>/dev/null; then
  psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $pg_schema CASCADE" 2>/dev/null || true
fi
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "flowgate $(git describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), $(date -u '+%F %H:%M') UTC;" \
  "$(nproc) cores ($cpu), loopback; loadgen -t2 -c64 (wrk over TLS), ${seconds} s per run after ${warmup} s of warm-up."
for server in flowgate nginx; do
  if [ -s "$work/tls/$server" ]; then echo "TLS, $server: $(cat "$work/tls/$server")."; fi
done
status=0
python3 bench/load.py report "$work/results" "$work/starts" "$mode" "$(getconf CLK_TCK)" "$work/backlog" || status=$?
echo "$mode run: $((SECONDS - built)) s after $((built - began)) s of installing and building" >&2
exit "$status"
