#!/usr/bin/env bash
# bench_ocsp.sh: OCSP responder throughput with wrk, POST /ocsp of one request
# without a nonce (what RFC 5019 clients send, so answered from signet's
# pre-signed cache), side by side in one run with `cfssl ocspserve` (Debian's
# golang-cfssl: pre-signed responses from a file made with `cfssl ocspsign`;
# its GET path is broken in that build, so POST everywhere) and `openssl ocsp
# -port` (an index.txt responder that signs every answer). Not run by
# tests/run.sh (timings are never asserted); by hand:
#
#   ./deploy/deps.sh --bench          # wrk, golang-cfssl
#   SIGNET_BIN=build/signet tests/bench/bench_ocsp.sh [SECONDS-PER-POINT]
#
# All three run at once on loopback, plain HTTP, and are measured one after
# the other, BENCH_ROUNDS times (2) in turn, so a change in the machine's load
# hits each alike. Every answer is checked with `openssl ocsp` first.
# Columns: responses/s, p50 and p99 latency (ms), non-2xx and socket errors,
# server CPU ms per 1000 responses (not for openssl, whose work is done by
# its -multi children), load (1-minute load average).
# Env: BENCH_SECS (10), BENCH_CONC (64), BENCH_THREADS (2), BENCH_ROUNDS (2),
# BENCH_OPENSSL_MULTI (openssl ocsp -multi N; default: one per CPU. Its single-
# process mode serves one connection at a time and stalls under wrk).
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/../integration/serve_lib.sh"
. "$bench_dir/../integration/revocation_lib.sh"
secs=${1:-${BENCH_SECS:-10}}
conc=${BENCH_CONC:-64}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-2}
hz=$(getconf CLK_TCK)
for tool in wrk cfssl python3 openssl curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (./deploy/deps.sh --bench)"; exit 1; }
done

OTHER_PIDS=()
bench_exit() {
  local rc=$?
  [ -n "${OSSL_PID:-}" ] && stop_openssl
  for p in "${OTHER_PIDS[@]}"; do
    kill "$p" 2>/dev/null
    { wait "$p"; } 2>/dev/null
  done
  (exit "$rc")
  t_exit
}
trap bench_exit EXIT

# ---- signet ----
make_pki >/dev/null || exit 1
write_config
start_server SIGNET_LOG_LEVEL=error || exit 1
P=$T_DIR/pki
issue web spiffe://example.org/ns/default/sa/web || exit 1
openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/web.crt" -no_nonce \
  -reqout "$T_DIR/req.der" >/dev/null 2>&1 || exit 1
export OCSP_REQ=$T_DIR/req.der

# ---- cfssl ocspserve: pre-signed responses from a file ----
read -r CF_PORT OSSL_PORT <<<"$(free_ports 2)"
cfssl ocspsign -ca "$P/intermediate.crt" -responder "$P/intermediate.crt" \
  -responder-key "$P/intermediate.key" -cert "$T_DIR/web.crt" -status good -interval 4h \
  -loglevel 5 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["ocspResponse"])' \
  >"$T_DIR/responses" || { echo "bench: cfssl ocspsign failed"; exit 1; }
cfssl ocspserve -address 127.0.0.1 -port "$CF_PORT" -responses "$T_DIR/responses" -loglevel 5 \
  >"$T_DIR/cfssl.log" 2>&1 &
CF_PID=$!
OTHER_PIDS+=("$CF_PID")

# ---- openssl ocsp -port: index.txt, signs every response ----
na=$(date -u -d "$(openssl x509 -in "$T_DIR/web.crt" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
sn=$(openssl x509 -in "$T_DIR/web.crt" -noout -serial | cut -d= -f2)
printf 'V\t%s\t\t%s\tunknown\t/\n' "$na" "$sn" >"$T_DIR/index.txt"
# Restarted for each point: after a wrk run its workers can stay stuck on
# connections wrk dropped.
start_openssl() {
  openssl ocsp -index "$T_DIR/index.txt" -port "$OSSL_PORT" -rsigner "$P/intermediate.crt" \
    -rkey "$P/intermediate.key" -CA "$P/intermediate.crt" -nmin 240 -ignore_err \
    -multi "${BENCH_OPENSSL_MULTI:-$(nproc)}" >>"$T_DIR/openssl.log" 2>&1 &
  OSSL_PID=$!
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$OSSL_PORT/" && return 0
    sleep 0.1
  done
}
# SIGKILL: with -multi the parent waits for its workers in a wait() that
# SIGTERM does not interrupt, and orphaned workers spin.
stop_openssl() {
  [ -n "${OSSL_PID:-}" ] || return 0
  pkill -KILL -P "$OSSL_PID" 2>/dev/null
  kill -KILL "$OSSL_PID" 2>/dev/null
  { wait "$OSSL_PID"; } 2>/dev/null
  OSSL_PID=""
}
start_openssl
sleep 1

# check NAME URL: the responder at URL says good for web.crt, verified.
check_good() {
  local out
  out=$(openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/web.crt" -url "$2" \
    -CAfile "$P/root.crt" -no_nonce 2>&1)
  if ! echo "$out" | grep -q '^Response verify OK' || ! echo "$out" | grep -q ': good'; then
    echo "bench: $1 does not answer good: $out"
    exit 1
  fi
}
check_good signet "$HTTP_URL/ocsp"
check_good cfssl "http://127.0.0.1:$CF_PORT/"
check_good openssl "http://127.0.0.1:$OSSL_PORT/"
stop_openssl

cpu_ticks() { # PID: utime+stime of PID and its children threads
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# point NAME PID URL: one wrk run; prints a row.
point() {
  local name=$1 pid=$2 url=$3 out c0 c1
  c0=$(cpu_ticks "$pid")
  out=$(wrk -t"$threads" -c"$conc" -d"${secs}s" --latency -s "$bench_dir/ocsp.lua" "$url" 2>&1)
  c1=$(cpu_ticks "$pid")
  python3 - "$name" "$((c1 - c0))" "$hz" "$(cut -d' ' -f1 /proc/loadavg)" <<PY
import re, sys
out = """$out"""
name, ticks, hz, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)", s)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
total = int(re.search(r"(\d+) requests in", out).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
sock = re.search(r"Socket errors: (.*)", out)
errs = (int(non2xx.group(1)) if non2xx else 0)
cpu = f"{ticks * 1000.0 / hz / max(total, 1) * 1000:.1f}" if name != "openssl" else "-"
print(f"{name:8} {rps:12.0f} {p50:8.2f} {p99:8.2f} {errs:7d} {cpu:>12} {load:>6}  {sock.group(1) if sock else ''}")
PY
}

echo "# OCSP POST, c=$conc, $threads wrk threads, ${secs}s per point, $(nproc) CPUs"
printf '%-8s %12s %8s %8s %7s %12s %6s\n' server "responses/s" "p50 ms" "p99 ms" non2xx "cpu ms/1k" load
for r in $(seq 1 "$rounds"); do
  point signet "$SRV_PID" "$HTTP_URL/ocsp"
  point cfssl "$CF_PID" "http://127.0.0.1:$CF_PORT/"
  start_openssl
  point openssl "$OSSL_PID" "http://127.0.0.1:$OSSL_PORT/"
  stop_openssl
done
t_ok "benchmark finished"
finish
