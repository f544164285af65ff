#!/usr/bin/env bash
# bench_renew.sh: POST /v1/renew over mTLS (keep-alive), renewals/s and
# server CPU per renewal, for one signet binary or two side by side. Not run
# by tests/run.sh (timings are never asserted); by hand:
#
#   SIGNET_BIN=build/signet [SIGNET_BIN_B=other/signet] tests/bench/bench_renew.sh [N] [CLIENTS] [ROUNDS]
#
# Each round starts the server(s) afresh with the same PKI and issues one SVID
# with a Kubernetes token; then `curl --parallel --parallel-max CLIENTS` sends
# N x CLIENTS renewals with it (default 1000 x 2), CLIENTS at a time, over
# connections it keeps open and reuses. With SIGNET_BIN_B the builds alternate
# round by round (ROUNDS each, default 3), so a change in the machine's load
# hits both alike. curl shares the two cores with the server, so renewals/s
# is what this machine does with both on it; CPU per renewal (utime+stime of
# the server over the answers) is what compares builds.
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/../integration/serve_lib.sh"
n=${1:-1000}
threads=${2:-2}
rounds=${3:-3}
hz=$(getconf CLK_TCK)
cd "$T_DIR" || exit 1
make_pki >/dev/null || exit 1

server_cpu() { # PID: utime + stime in ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

one_round() { # LABEL BINARY
  local label=$1 bin=$2
  rm -rf "$T_DIR/db"
  write_config
  SIGNET_BIN=$bin start_server SIGNET_LOG_LEVEL=error || return 1
  make_csr w
  body w.csr >w.json
  local st
  st=$(post "$HTTPS_URL/v1/sign" "$(k8s_token ES256 ec1)" w.json w.resp)
  [ "$st" = 201 ] || { echo "bench_renew: sign answered $st"; stop_server TERM; return 1; }
  split_response w.resp w
  local c0 c1 out
  c0=$(server_cpu "$SRV_PID")
  # One curl config: the client certificate and body for every transfer,
  # then one URL (and where its answer goes) per renewal.
  {
    echo 'cacert = "pki/root.crt"'
    echo 'cert = "w.crt"'
    echo 'key = "w.key"'
    echo 'header = "Content-Type: application/json"'
    echo 'data-binary = "@w.json"'
    echo 'write-out = "%{http_code}\n"'
    for _ in $(seq $((n * threads))); do
      echo "url = \"$HTTPS_URL/v1/renew\""
      echo 'output = "/dev/null"'
    done
  } >renew.cfg
  local t0 t1
  t0=$(date +%s.%N)
  curl -s --parallel --parallel-max "$threads" -K renew.cfg >codes.txt 2>curl.err
  t1=$(date +%s.%N)
  out="$(grep -c '^201$' codes.txt) $(grep -vc '^201$' codes.txt) $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  c1=$(server_cpu "$SRV_PID")
  stop_server TERM
  read -r ok bad secs <<<"$out"
  python3 -c 'import sys
label, ok, bad, secs, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print("%-9s renewals %6d  errors %d  %7.0f /s  server cpu %.3f ms/renewal" % (label, ok, bad, ok / secs, ticks * 1000.0 / hz / max(ok, 1)))' \
    "$label" "$ok" "$bad" "$secs" "$((c1 - c0))" "$hz"
}

echo "renewals: $threads at a time, $((n * threads)) per round (curl --parallel, keep-alive), $rounds round(s) per build"
for r in $(seq 1 "$rounds"); do
  one_round signet "$SIGNET_BIN" || exit 1
  if [ -n "${SIGNET_BIN_B:-}" ]; then
    one_round signet-b "$SIGNET_BIN_B" || exit 1
  fi
done
finish
