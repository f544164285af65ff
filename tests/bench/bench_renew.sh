#!/usr/bin/env bash
# bench_renew.sh: POST /v1/renew over mTLS (keep-alive), server CPU per
# renewal and renewals/s, for one signet binary or two side by side. Not run
# by tests/run.sh (timings are never asserted); by hand:
#
#   SIGNET_BIN=build/signet [SIGNET_BIN_B=other/signet] tests/bench/bench_renew.sh [N] [THREADS] [ROUNDS]
#
# Each round starts the server(s) afresh with the same PKI, issues one SVID
# with a Kubernetes token, then THREADS Python clients (default 2) renew with
# it N times each (default 1000) on one TLS connection per client. With
# SIGNET_BIN_B the builds alternate round by round (ROUNDS each, default 3),
# so a change in the machine's load hits both alike. The client is Python
# (http.client): it is slow, so renewals/s is a floor; CPU per renewal
# (utime+stime of the server over the answers) is what compares builds.
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
  out=$(python3 - "$HTTPS_PORT" pki/root.crt w.crt w.key w.json "$n" "$threads" <<'PY'
import http.client, ssl, sys, threading, time
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body, n, t = open(sys.argv[5], "rb").read(), int(sys.argv[6]), int(sys.argv[7])
ok, bad, lock = [0], [0], threading.Lock()
def run():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(crt, key)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    for _ in range(n):
        c.request("POST", "/v1/renew", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        with lock:
            if r.status == 201:
                ok[0] += 1
            else:
                bad[0] += 1
t0 = time.time()
th = [threading.Thread(target=run) for _ in range(t)]
for x in th:
    x.start()
for x in th:
    x.join()
print(ok[0], bad[0], "%.2f" % (time.time() - t0))
PY
  )
  c1=$(server_cpu "$SRV_PID")
  stop_server TERM
  read -r ok bad secs <<<"$out"
  python3 -c 'import sys
label, ok, bad, secs, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print("%-9s renewals %6d  errors %d  %7.0f /s  server cpu %.3f ms/renewal" % (label, ok, bad, ok / secs, ticks * 1000.0 / hz / max(ok, 1)))' \
    "$label" "$ok" "$bad" "$secs" "$((c1 - c0))" "$hz"
}

echo "renewals: $threads clients x $n, keep-alive, $rounds round(s) per build"
for r in $(seq 1 "$rounds"); do
  one_round signet "$SIGNET_BIN" || exit 1
  if [ -n "${SIGNET_BIN_B:-}" ]; then
    one_round signet-b "$SIGNET_BIN_B" || exit 1
  fi
done
finish
