#!/usr/bin/env bash
# bench_issue.sh: issuance throughput of `signet serve` with wrk, next to
# cfssl and to OpenSSL's raw ECDSA P-256 signing speed. Not run by
# tests/run.sh (timings are never asserted); run it by hand:
#
#   ./deploy/deps.sh --bench          # wrk, golang-cfssl
#   SIGNET_BIN=build/signet tests/bench/bench_issue.sh [SECONDS]
#
# signet: POST /v1/sign over HTTPS (TLS 1.3) with a fixed P-256 CSR and a
# reusable Kubernetes token (ES256), default 1h SVIDs, each durably recorded
# (group commit + fsync) before the answer; at 1, 16 and 64 connections with
# keep-alive, then with Connection: close (a full handshake per certificate).
# cfssl: `cfssl serve` signing the same CSR with a P-256 CA over plain HTTP,
# no store and no authentication, so an upper bound for the HTTP+signing path.
# openssl speed: the bound on signatures per second per core.
# Prints one line per run: certs/s, p50 and p99 latency in ms.
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/../integration/serve_lib.sh"
secs=${1:-10}
cd "$T_DIR" || exit 1
command -v wrk >/dev/null || { echo "bench: wrk missing (./deploy/deps.sh --bench)"; exit 1; }

make_pki >/dev/null || exit 1
write_config
sed -i 's/"map_size_mb": 64/"map_size_mb": 4096/' signet.json
start_server SIGNET_LOG_LEVEL=error || exit 1
make_csr bench
body bench.csr >bench.json
export BENCH_BODY=$T_DIR/bench.json BENCH_PATH=/v1/sign
BENCH_TOKEN=$(k8s_token ES256 ec1 bench load '{"exp": "now+86400"}')
export BENCH_TOKEN
lua=$bench_dir/issue.lua

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for close in 0 1; do
  for c in 1 16 64; do
    t=$((c < $(nproc) ? c : $(nproc)))
    printf 'signet  keep-alive=%s c=%-3s ' "$([ $close = 0 ] && echo yes || echo no)" "$c"
    BENCH_CLOSE=$close wrk -t"$t" -c"$c" -d"${secs}s" --latency -s "$lua" "$HTTPS_URL" | grep '^RESULT'
  done
done
curl -s "$HTTP_URL/metrics" | grep -E '^signet_store_(commits|committed)_total' | tr '\n' ' '
echo
stop_server TERM

if command -v cfssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem \
    -subj /CN=bench-ca -days 30 -out ca.pem 2>/dev/null
  read -r cport <<<"$(free_ports 1)"
  cfssl serve -ca ca.pem -ca-key ca-key.pem -address 127.0.0.1 -port "$cport" >cfssl.log 2>&1 &
  cpid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$cport/" && break; sleep 0.1; done
  python3 -c 'import json; print(json.dumps({"certificate_request": open("bench.csr").read()}))' >cfssl.json
  for c in 1 16 64; do
    t=$((c < $(nproc) ? c : $(nproc)))
    printf 'cfssl   keep-alive=yes c=%-3s ' "$c"
    BENCH_BODY=$T_DIR/cfssl.json BENCH_TOKEN= BENCH_PATH=/api/v1/cfssl/sign BENCH_CLOSE=0 \
      wrk -t"$t" -c"$c" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$cport" | grep '^RESULT'
  done
  kill "$cpid"
  wait "$cpid" 2>/dev/null
else
  echo "cfssl: not installed (apt-get install golang-cfssl)"
fi

echo "openssl speed ecdsap256 (one core):"
openssl speed -seconds 3 ecdsap256 2>/dev/null | grep -E '^ *256 bits ecdsa'
