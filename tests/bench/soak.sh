#!/usr/bin/env bash
# soak.sh: a soak test of `signet serve`. Not run by tests/run.sh (it takes
# 10 minutes and timings are never asserted); by hand:
#
#   SIGNET_BIN=build/signet tests/bench/soak.sh            # 10 minutes
#   SOAK_SECONDS=120 SIGNET_BIN=build/signet tests/bench/soak.sh
#
# For SOAK_SECONDS (default 600) a fixed-rate, open-loop mix (soak_load.py):
# issuance (POST /v1/sign, Kubernetes token), renewal (POST /v1/renew over a
# new mTLS connection with a certificate issued earlier), revocation (POST
# /v1/revoke as an admin) and OCSP (POST /ocsp over HTTP, for a fixed set of
# good and revoked serials). Rates per second: SOAK_SIGN_RATE (20),
# SOAK_RENEW_RATE (5), SOAK_REVOKE_RATE (2), SOAK_OCSP_RATE (20). Every 5 s
# the server's RSS (VmRSS, split into anonymous and file-backed: LMDB's map
# counts as file-backed) and the store's size on disk (like du) are sampled.
#
# Writes into SOAK_OUT (default /tmp/signet-soak-<time>): report.txt
# (throughput, status counts, p50/p99/max latency per operation, RSS and
# store size at the start and end), requests.csv, resources.csv and soak.png
# (gnuplot: RSS and store size over time, and p99 latency per 5 s window per
# operation). Latency is measured from when a request is sent on its
# connection; "late_ticks" counts requests the generator started more than
# 1 s behind schedule (the generator, not the server, was the bottleneck).
# Needs python3, openssl, curl, gnuplot (gnuplot-nox; installed if missing).
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/../integration/serve_lib.sh"
. "$bench_dir/../integration/revocation_lib.sh"
SECS=${SOAK_SECONDS:-600}
OUT=${SOAK_OUT:-/tmp/signet-soak-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$T_DIR" || exit 1
if ! command -v gnuplot >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null 2>&1
fi

make_pki >/dev/null || exit 1
write_config
sed -i 's/"map_size_mb": 64/"map_size_mb": 4096/' signet.json
start_server SIGNET_LOG_LEVEL=error || exit 1
issue admin spiffe://example.org/admin/ops || exit 1
make_csr w
body w.csr >w.json
tok=$(k8s_token ES256 ec1 default soak '{"exp": "now+86400"}')

# OCSP requests for 8 serials, 3 of them revoked, made once with openssl.
reqs=()
for i in $(seq 1 8); do
  issue "o$i" "spiffe://example.org/ns/default/sa/o$i" || exit 1
  [ "$i" -le 3 ] && as admin POST /v1/revoke "$(revoke_body "$(serial_of "o$i")")" >/dev/null
  openssl ocsp -issuer pki/intermediate.crt -serial "0x$(serial_of "o$i")" -no_nonce \
    -reqout "ocsp$i.der" >/dev/null 2>&1 || exit 1
  reqs+=("$T_DIR/ocsp$i.der")
done

python3 - "$OUT/load.json" <<PY
import json, sys
json.dump({"https_port": $HTTPS_PORT, "http_port": $HTTP_PORT, "cafile": "$T_DIR/pki/root.crt",
           "sign_body": "$T_DIR/w.json", "token": "$tok", "leaf_key": "$T_DIR/w.key",
           "admin_crt": "$T_DIR/admin.crt", "admin_key": "$T_DIR/admin.key",
           "ocsp_reqs": "${reqs[*]}".split(), "server_pid": $SRV_PID, "store_dir": "$T_DIR/db",
           "seconds": $SECS, "out": "$OUT",
           "rates": {"sign": ${SOAK_SIGN_RATE:-20}, "renew": ${SOAK_RENEW_RATE:-5},
                     "revoke": ${SOAK_REVOKE_RATE:-2}, "ocsp": ${SOAK_OCSP_RATE:-20}}},
          open(sys.argv[1], "w"))
PY
echo "soak: ${SECS}s against $SIGNET_BIN, writing to $OUT"
python3 "$bench_dir/soak_load.py" "$OUT/load.json" >"$OUT/summary.json" || exit 1
stop_server TERM

# report.txt: a table from summary.json.
python3 - "$OUT" "$SIGNET_BIN" <<'PY' | tee "$OUT/report.txt"
import json, sys
out = sys.argv[1]
s = json.load(open(out + "/summary.json"))
print("signet soak: %.0f s, binary %s" % (s["seconds"], sys.argv[2]))
print("%-7s %8s %8s %8s %9s %9s %9s %6s  %s" % ("op", "target/s", "ok/s", "requests", "p50 ms",
                                                 "p99 ms", "max ms", "late", "statuses"))
for name, o in s["ops"].items():
    print("%-7s %8.1f %8.2f %8d %9.2f %9.2f %9.2f %6d  %s" % (
        name, o["target_per_s"], o["ok_per_s"], o["requests"], o["p50_ms"], o["p99_ms"],
        o["max_ms"], o["late_ticks"], " ".join("%s:%d" % kv for kv in sorted(o["statuses"].items()))))
if "rss_mib" in s:
    r, d = s["rss_mib"], s["store_mib"]
    print("RSS MiB: first %.1f, last %.1f, max %.1f (anonymous %.1f -> %.1f, file-backed"
          " incl. the LMDB map %.1f -> %.1f); store MiB: first %.2f, last %.2f"
          % (r["first"], r["last"], r["max"], r["anon_first"], r["anon_last"], r["file_first"],
             r["file_last"], d["first"], d["last"]))
PY

# p99 latency per 5 s window and operation, for the chart.
python3 - "$OUT" <<'PY'
import collections, csv, sys
out = sys.argv[1]
win = collections.defaultdict(list)
ops = []
for r in csv.DictReader(open(out + "/requests.csv")):
    w = int(float(r["t_s"]) // 5) * 5
    win[(w, r["op"])].append(float(r["ms"]))
    if r["op"] not in ops:
        ops.append(r["op"])
ops = [o for o in ("sign", "renew", "revoke", "ocsp") if o in ops]
with open(out + "/latency.dat", "w") as f:
    f.write("# t_s " + " ".join("p99_" + o for o in ops) + "\n")
    for w in sorted({k[0] for k in win}):
        vals = []
        for o in ops:
            v = sorted(win.get((w, o), []))
            vals.append("%.2f" % v[min(len(v) - 1, int(len(v) * 0.99))] if v else "NaN")
        f.write("%d %s\n" % (w, " ".join(vals)))
open(out + "/latency.ops", "w").write(" ".join(ops))
PY
ops=$(cat "$OUT/latency.ops")
plot_lat=""
col=2
for o in $ops; do
  plot_lat+="${plot_lat:+, }'$OUT/latency.dat' using 1:$col with linespoints title '$o p99'"
  col=$((col + 1))
done
gnuplot <<GP && echo "chart: $OUT/soak.png"
set terminal png size 1000,900
set output '$OUT/soak.png'
set datafile separator ','
set multiplot layout 3,1 title 'signet soak (${SECS} s)'
set xlabel 'seconds'
set ylabel 'RSS (MiB)'
set key left top
plot '$OUT/resources.csv' every ::1 using 1:(\$2/1024) with linespoints title 'server RSS', \
  '' every ::1 using 1:(\$4/1024) with linespoints title 'anonymous', \
  '' every ::1 using 1:(\$5/1024) with linespoints title 'file-backed (LMDB map, binary)'
set ylabel 'store size (MiB)'
plot '$OUT/resources.csv' every ::1 using 1:(\$3/1024) with linespoints title 'LMDB on disk'
set datafile separator whitespace
set ylabel 'p99 latency (ms), 5 s windows'
set logscale y
plot $plot_lat
unset multiplot
GP
echo "report: $OUT/report.txt"
exit 0
