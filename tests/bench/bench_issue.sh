#!/usr/bin/env bash
# bench_issue.sh: issuance throughput of `signet serve` with wrk, side by side
# in one run with cfssl (no store, SQLite store, SQLite store in WAL mode) and
# with the bound `openssl speed` puts on one ECDSA verify + one ECDSA sign per
# certificate. Not run by tests/run.sh (timings are never asserted); by hand:
#
#   ./deploy/deps.sh --bench          # wrk, golang-cfssl
#   SIGNET_BIN=build/signet tests/bench/bench_issue.sh [SECONDS-PER-POINT]
#
# signet: POST /v1/sign over HTTPS (TLS 1.3) with a fixed P-256 CSR and a
# reusable Kubernetes token (ES256, verified once then cached), default 1h
# SVIDs, each durably recorded (LMDB group commit + fsync) before the answer;
# at 1, 16 and 64 connections with keep-alive, then with Connection: close (a
# full TLS handshake per certificate).
# cfssl: `cfssl serve` signing the same CSR with a P-256 CA over plain HTTP, no
# authentication; "nostore" is an upper bound for its HTTP+signing path,
# "nostore-tls" the same over HTTPS (TLS 1.3, keep-alive) like signet,
# "tls-close" that server with a new TLS connection per certificate. Go's TLS
# issues session tickets (a Python client resumed cfssl's session on its 2nd,
# 3rd and 4th connection) and wrk resumes them (against a Python TLS server
# that issues tickets, 4,106 of 4,107 wrk connections were resumptions), so
# cfssl-tls-close skips sending and signing its certificate, and wrk skips
# parsing it, on most handshakes. signet issues no tickets and does a full
# handshake each time, as a sidecar's first contact does.
# "sqlite" records every certificate with -db-config in a SQLite file (rollback
# journal, SQLite's default: 3 fdatasyncs per certificate), "sqlite-wal" in WAL
# mode with _sync=FULL (1 fdatasync per certificate: durable like signet), and
# "wal-nosync" in WAL mode with this build's default synchronous=NORMAL, which
# does not sync per certificate (2 fdatasyncs for 50 certificates under strace):
# a committed certificate can be lost on power failure, unlike signet's.
# All servers run at once and the points are interleaved by concurrency, so a
# change in the machine's load hits every contender alike. The machine is
# shared: each point measures the CPU used by processes other than the server
# and wrk (from /proc/stat) and is repeated (BENCH_TRIES times at most) while
# that exceeds BENCH_MAX_OTHER percent of the machine; the quietest try is kept.
#
# Columns: certs/s (2xx answers per second), p50/p99 latency in ms, errors,
# server CPU ms per issuance (utime+stime delta / answers), wrk CPU ms per
# answer (the load generator shares the cores), other% (CPU of the rest of the
# machine during the point), load (1-minute load average), ceiling (what a
# server doing nothing but one ECDSA verify and one sign per certificate, at
# the openssl bound's cost, could answer beside this point's wrk: cores /
# (cores / bound + wrk CPU per answer)), all tries (lowest-highest certs/s
# over the tries of the point: the spread).
# A second table gives, for the signet points, the server's own mean time per
# stage (queue, sign, commit: signet_issuance_stage_seconds) and the mean
# group-commit batch over the reported try: where the latency went.
# Env: BENCH_SECS, BENCH_TRIES (3), BENCH_MAX_OTHER (10), BENCH_CONC ("1 16 64"),
# BENCH_NAMES (which contenders, default all), SIGNET_SIGNERS, SIGNET_SIGN_QUEUE
# (passed to signet serve). SIGNET_BIN_B=<another signet binary> adds a second
# signet ("signet-b", keep-alive, with SIGNET_SIGNERS_B signers) for an A/B
# comparison of two builds or settings in the same run. "signet-tmpfs" in
# BENCH_NAMES adds a diagnostic, not a contender: signet with its store in
# /dev/shm, where fsync writes nothing (NOT durable), to show in the same run
# what the synced commits cost in throughput and tail latency.
bench_dir=$(cd "$(dirname "$0")" && pwd)
. "$bench_dir/../integration/serve_lib.sh"
secs=${1:-${BENCH_SECS:-10}}
tries=${BENCH_TRIES:-3}
max_other=${BENCH_MAX_OTHER:-10}
conc=${BENCH_CONC:-1 16 64}
lua=$bench_dir/issue.lua
hz=$(getconf CLK_TCK)
cd "$T_DIR" || exit 1
for tool in wrk cfssl python3 openssl curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (./deploy/deps.sh --bench)"; exit 1; }
done

CFSSL_PIDS=()
bench_exit() {
  local rc=$?
  for p in "${CFSSL_PIDS[@]}"; do
    kill "$p" 2>/dev/null
    { wait "$p"; } 2>/dev/null
  done
  [ -z "${TMPFS_DIR:-}" ] || rm -rf "$TMPFS_DIR"
  (exit "$rc")
  t_exit
}
trap bench_exit EXIT

# ---- signet ----
make_pki >/dev/null || exit 1
write_config
sed -i 's/"map_size_mb": 64/"map_size_mb": 4096/' signet.json
start_server SIGNET_LOG_LEVEL=error ${SIGNET_SIGNERS:+SIGNET_SIGNERS=$SIGNET_SIGNERS} \
  ${SIGNET_SIGN_QUEUE:+SIGNET_SIGN_QUEUE=$SIGNET_SIGN_QUEUE} || exit 1
make_csr bench
body bench.csr >signet.json.body
BENCH_TOKEN=$(k8s_token ES256 ec1 bench load '{"exp": "now+86400"}')
declare -A PID URL BODY PATHS TOKEN METRICS
# extra_signet NAME DIR BIN [ENV=VALUE...]: one more signet server for the
# contender NAME, in DIR (its own config and store, sharing the PKI), with the
# same token and request body as signet.
extra_signet() {
  local name=$1 dir=$2 bin=$3 a_pid=$SRV_PID a_dir=$T_DIR a_https=$HTTPS_URL a_http=$HTTP_URL
  shift 3
  T_DIR=$dir
  mkdir -p "$T_DIR"
  ln -s "$a_dir/pki" "$T_DIR/pki"
  write_config
  sed -i 's/"map_size_mb": 64/"map_size_mb": 4096/' "$T_DIR/signet.json"
  (cd "$T_DIR" && SIGNET_BIN=$bin start_server SIGNET_LOG_LEVEL=error "$@" &&
    echo "$SRV_PID" >server.pid) || return 1
  PID[$name]=$(cat "$T_DIR/server.pid")
  CFSSL_PIDS+=("${PID[$name]}")
  URL[$name]=$HTTPS_URL
  METRICS[$name]=$HTTP_URL/metrics
  BODY[$name]=$a_dir/signet.json.body
  PATHS[$name]=/v1/sign
  TOKEN[$name]=$BENCH_TOKEN
  SRV_PID=$a_pid T_DIR=$a_dir HTTPS_URL=$a_https HTTP_URL=$a_http
}
if [ -n "${SIGNET_BIN_B:-}" ]; then
  extra_signet signet-b "$T_DIR/b" "$SIGNET_BIN_B" \
    ${SIGNET_SIGNERS_B:+SIGNET_SIGNERS=$SIGNET_SIGNERS_B} || exit 1
fi
# signet-tmpfs (only when BENCH_NAMES names it): the same server with its
# store in /dev/shm, where fsync writes nothing. It is NOT durable and no
# result: it shows what the synced commits cost in the same run.
TMPFS_DIR=
if [[ " ${BENCH_NAMES:-} " == *" signet-tmpfs "* ]]; then
  TMPFS_DIR=$(mktemp -d /dev/shm/signet-bench.XXXXXX) || exit 1
  extra_signet signet-tmpfs "$TMPFS_DIR" "$SIGNET_BIN" || exit 1
fi

# ---- cfssl: one CA, three servers ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem \
  -subj /CN=bench-ca -days 30 -out ca.pem 2>/dev/null || exit 1
python3 -c 'import json; print(json.dumps({"certificate_request": open("bench.csr").read()}))' \
  >cfssl.json.body
# The schema of cfssl's certdb/sqlite migrations (certificates, ocsp_responses),
# written out by hand; the INSERT in Debian's cfssl names exactly these columns.
make_cfssl_db() { # FILE JOURNAL-MODE
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier)
    REFERENCES certificates(serial_number, authority_key_identifier)
);
""")
print(db.execute("PRAGMA journal_mode=%s" % sys.argv[2]).fetchone()[0])
db.close()
PY
}
make_cfssl_db cfssl.db delete >/dev/null || exit 1
make_cfssl_db cfssl-wal.db wal >/dev/null || exit 1
printf '{"driver": "sqlite3", "data_source": "%s"}\n' "$T_DIR/cfssl.db" >cfssl-db.json
make_cfssl_db cfssl-wal-nosync.db wal >/dev/null || exit 1
printf '{"driver": "sqlite3", "data_source": "file:%s?_sync=FULL"}\n' "$T_DIR/cfssl-wal.db" \
  >cfssl-wal-db.json
printf '{"driver": "sqlite3", "data_source": "%s"}\n' "$T_DIR/cfssl-wal-nosync.db" \
  >cfssl-wal-nosync-db.json

start_cfssl() { # NAME [cfssl serve args...]
  local name=$1 port
  shift
  read -r port <<<"$(free_ports 1)"
  cfssl serve -ca ca.pem -ca-key ca-key.pem -address 127.0.0.1 -port "$port" -loglevel 5 "$@" \
    >"$name.log" 2>&1 &
  PID[$name]=$!
  CFSSL_PIDS+=($!)
  URL[$name]=http://127.0.0.1:$port
  case " $* " in *" -tls-cert "*) URL[$name]=https://127.0.0.1:$port ;; esac
  BODY[$name]=$T_DIR/cfssl.json.body
  PATHS[$name]=/api/v1/cfssl/sign
  TOKEN[$name]=
  for _ in $(seq 1 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' -d @cfssl.json.body "${URL[$name]}/api/v1/cfssl/sign")" = 200 ] &&
      return 0
    sleep 0.1
  done
  echo "bench: $name did not come up:" >&2
  tail -5 "$name.log" >&2
  return 1
}
start_cfssl cfssl-nostore || exit 1
# Like for like with signet's HTTPS: the same server over TLS (P-256 server
# key, Go's TLS 1.3 defaults), still without a store or authentication.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls-key.pem \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 30 -out tls.pem 2>/dev/null ||
  exit 1
start_cfssl cfssl-nostore-tls -tls-cert tls.pem -tls-key tls-key.pem || exit 1
# ... and with a new TLS connection per certificate, like signet-close.
for k in PID URL BODY PATHS TOKEN; do
  eval "$k[cfssl-tls-close]=\${$k[cfssl-nostore-tls]}"
done
start_cfssl cfssl-sqlite -db-config cfssl-db.json || exit 1
start_cfssl cfssl-sqlite-wal -db-config cfssl-wal-db.json || exit 1
start_cfssl cfssl-wal-nosync -db-config cfssl-wal-nosync-db.json || exit 1
for n in signet signet-close; do # the first server: keep-alive and a connection per request
  METRICS[$n]=$HTTP_URL/metrics
  PID[$n]=$SRV_PID
  URL[$n]=$HTTPS_URL
  BODY[$n]=$T_DIR/signet.json.body
  PATHS[$n]=/v1/sign
  TOKEN[$n]=$BENCH_TOKEN
done

# cpu_ticks PID: utime+stime of a process, in clock ticks.
cpu_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
# sys_ticks: "busy total" ticks of the whole machine.
sys_ticks() {
  awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat
}
# child_ticks VAR: sets VAR to the utime+stime of this shell's reaped children
# (cutime+cstime). It reads /proc with a builtin in the calling shell: called
# as $(child_ticks) it would read a fresh subshell's, always 0.
child_ticks() {
  local stat f
  read -r stat <"/proc/$BASHPID/stat"
  read -r -a f <<<"${stat##*) }" # f[0] is the state, f[13] cutime, f[14] cstime
  printf -v "$1" %d $((f[13] + f[14]))
}

# stage_totals NAME: "queue-sum queue-count sign-sum sign-count commit-sum
# commit-count commits committed" from a signet server's /metrics (zeros for
# the others, or a build without signet_issuance_stage_seconds).
stage_totals() {
  [ -n "${METRICS[$1]:-}" ] || { echo 0 0 0 0 0 0 0 0; return; }
  curl -s "${METRICS[$1]}" | awk '
    /^signet_issuance_stage_seconds_(sum|count)\{/ {
      split($1, a, "\""); k = (index($1, "_sum{") ? "s" : "c") a[2]; v[k] = $2 }
    /^signet_store_commits_total / { v["commits"] = $2 }
    /^signet_store_committed_total / { v["committed"] = $2 }
    END { printf "%s %s %s %s %s %s %s %s\n", v["squeue"] + 0, v["cqueue"] + 0, v["ssign"] + 0,
          v["csign"] + 0, v["scommit"] + 0, v["ccommit"] + 0, v["commits"] + 0, v["committed"] + 0 }'
}
# stage_means BEFORE AFTER: mean ms of each stage and the mean batch between
# two stage_totals, "-" where nothing was counted.
stage_means() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= 5; i += 2) {
      n = y[i + 1] - x[i + 1]
      printf "%s ", (n > 0 ? sprintf("%.2f", 1000 * (y[i] - x[i]) / n) : "-")
    }
    n = y[7] - x[7]
    printf "%s\n", (n > 0 ? sprintf("%.1f", (y[8] - x[8]) / n) : "-") }'
}

declare -A RES STAGES
# point NAME C: one wrk run (repeated while the machine is busy); sets RES[NAME,C]
# to "certs/s p50 p99 errors cpu_ms wrk_ms other% load", and STAGES[NAME,C] to the
# stage_means of the same try.
point() {
  local n=$1 c=$2 t close=0 try best="" best_other=1000 line lo=0 hi=0 st0 st best_st=""
  t=$((c < $(nproc) ? c : $(nproc)))
  case $n in *-close) close=1 ;; esac
  for try in $(seq 1 "$tries"); do
    st0=$(stage_totals "$n")
    line=$(
      read -r b0 a0 <<<"$(sys_ticks)"
      s0=$(cpu_ticks "${PID[$n]}")
      child_ticks w0
      out=$(BENCH_BODY=${BODY[$n]} BENCH_PATH=${PATHS[$n]} BENCH_TOKEN=${TOKEN[$n]} BENCH_CLOSE=$close \
        wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s --latency -s "$lua" "${URL[$n]}" | grep '^RESULT')
      s1=$(cpu_ticks "${PID[$n]}")
      read -r b1 a1 <<<"$(sys_ticks)"
      child_ticks w
      w=$((w - w0))
      load=$(cut -d' ' -f1 /proc/loadavg)
      # RESULT certs/s=X p50_ms=X p99_ms=X requests=N errors=N
      set -- ${out//=/ }
      awk -v r="$3" -v p50="$5" -v p99="$7" -v req="$9" -v err="${11}" -v sd=$((s1 - s0)) \
        -v bd=$((b1 - b0)) -v ad=$((a1 - a0)) -v w="$w" -v hz="$hz" -v load="$load" 'BEGIN {
          ok = req - err; other = ad > 0 ? 100 * (bd - sd - w) / ad : 0; if (other < 0) other = 0
          cpu = ok > 0 ? 1000 * sd / hz / ok : 0; wcpu = ok > 0 ? 1000 * w / hz / ok : 0
          printf "%.0f %.2f %.2f %d %.3f %.3f %.0f %s\n", r, p50, p99, err, cpu, wcpu, other, load }'
    )
    st=$(stage_means "$st0" "$(stage_totals "$n")")
    set -- $line
    printf '  %-17s c=%-3s try %d: %6s certs/s p50 %6s p99 %7s err %s cpu %s ms wrk %s ms other %s%% load %s\n' \
      "$n" "$c" "$try" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" >&2
    [ "$lo" = 0 ] || [ "$1" -lt "$lo" ] && lo=$1
    [ "$1" -gt "$hi" ] && hi=$1
    if [ "$7" -lt "$best_other" ]; then
      best=$line
      best_other=$7
      best_st=$st
    fi
    [ "$7" -le "$max_other" ] && break
  done
  RES[$n,$c]="$best $lo-$hi"
  STAGES[$n,$c]=$best_st
}

# ---- the bound: openssl speed on every core, the best of $tries runs ----
bound=0
for try in $(seq 1 "$tries"); do
  speed=$(openssl speed -seconds 3 -multi "$(nproc)" ecdsap256 2>/dev/null | grep 'ecdsa (nistp256)')
  read -r s v <<<"$(awk '{ print $(NF-1), $NF }' <<<"$speed")"
  b=$(awk -v s="$s" -v v="$v" 'BEGIN { printf "%.0f", 1 / (1 / s + 1 / v) }')
  echo "  openssl speed try $try: sign $s/s verify $v/s bound $b/s load $(cut -d' ' -f1 /proc/loadavg)" >&2
  if [ "$b" -gt "$bound" ]; then
    bound=$b sign_s=$s verify_s=$v
  fi
done

names=${BENCH_NAMES:-signet signet-close cfssl-nostore cfssl-nostore-tls cfssl-tls-close cfssl-sqlite cfssl-sqlite-wal cfssl-wal-nosync}
# signet-b runs right after signet, unless BENCH_NAMES already places it.
if [ -n "${SIGNET_BIN_B:-}" ] && [[ " $names " != *" signet-b "* ]]; then
  names=$(echo " $names " | sed 's/ signet / signet signet-b /')
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "start: $(uptime)"
echo "points (${secs}s each; tries shown on stderr):" >&2
for c in $conc; do
  for n in $names; do
    point "$n" "$c"
  done
done
echo "end:   $(uptime)"

# Peak RSS; it counts the pages of signet's LMDB map that were touched (file
# pages, RssFile), so the current anonymous memory is shown next to it.
hwm() {
  awk '/^(VmHWM|RssAnon|RssFile)/ { printf "%s %.1f MB  ", $1, $2 / 1024 }' "/proc/$1/status"
}
# ceiling: the certificates per second of a server whose only work were one
# ECDSA verify and one sign (the openssl bound's CPU per certificate), with the
# load generator on the same cores using what it used in this point:
# cores / (cores / bound + wrk CPU per answer).
printf '\n%-17s %4s %8s %8s %8s %5s %9s %9s %7s %5s %8s  %s\n' server c certs/s p50_ms p99_ms err \
  cpu_ms/op wrk_ms/op other% load ceiling "all tries"
for n in $names; do
  for c in $conc; do
    set -- ${RES[$n,$c]:-- - - - - - - - -}
    ceil=$(awk -v b="$bound" -v w="$6" -v k="$(nproc)" 'BEGIN {
      if (b > 0 && w + 0 > 0) printf "%.0f", k / (k / b + w / 1000); else printf "-" }')
    printf '%-17s %4s %8s %8s %8s %5s %9s %9s %7s %5s %8s  %s\n' "$n" "$c" "$1" "$2" "$3" "$4" "$5" \
      "$6" "$7" "$8" "$ceil" "$9"
  done
done
echo
echo "openssl speed -multi $(nproc) ecdsap256 (best of $tries): sign $sign_s/s, verify $verify_s/s;" \
  "bound (1 verify + 1 sign per certificate): $bound certs/s"
rate() { # NAME C: certs/s of a point, 0 when it did not run
  local v=${RES[$1,$2]:-0}
  echo "${v%% *}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
printf '%-17s %4s %10s %10s %10s %10s %10s %10s\n' server c vs-nostore vs-tls vs-sqlite vs-wal \
  vs-nosync of-bound
for n in signet signet-b signet-tmpfs signet-close; do
  [ -n "${RES[$n,${conc%% *}]:-}" ] || continue
  for c in $conc; do
    s=$(rate "$n" "$c")
    printf '%-17s %4s %10s %10s %10s %10s %10s %10s\n' "$n" "$c" \
      "$(ratio "$s" "$(rate cfssl-nostore "$c")")" "$(ratio "$s" "$(rate cfssl-nostore-tls "$c")")" \
      "$(ratio "$s" "$(rate cfssl-sqlite "$c")")" \
      "$(ratio "$s" "$(rate cfssl-sqlite-wal "$c")")" "$(ratio "$s" "$(rate cfssl-wal-nosync "$c")")" \
      "$(ratio "$s" "$bound")"
  done
done
for c in $conc; do
  [ -n "${RES[signet-close,$c]:-}" ] && [ -n "${RES[cfssl-tls-close,$c]:-}" ] || continue
  printf 'c=%-3s signet-close / cfssl-tls-close (a TLS handshake per certificate for both): %s\n' \
    "$c" "$(ratio "$(rate signet-close "$c")" "$(rate cfssl-tls-close "$c")")"
done
echo
echo "signet's own timing of the reported tries (signet_issuance_stage_seconds; mean ms, and"
echo "the mean group-commit batch):"
printf '%-17s %4s %8s %8s %8s %8s\n' server c queue sign commit batch
for n in signet signet-b signet-tmpfs signet-close; do
  for c in $conc; do
    [ -n "${STAGES[$n,$c]:-}" ] || continue
    set -- ${STAGES[$n,$c]}
    printf '%-17s %4s %8s %8s %8s %8s\n' "$n" "$c" "$1" "$2" "$3" "$4"
  done
done
echo
for n in signet signet-b signet-tmpfs cfssl-nostore cfssl-nostore-tls cfssl-sqlite cfssl-sqlite-wal cfssl-wal-nosync; do
  [ -n "${PID[$n]:-}" ] || continue
  printf 'memory %-17s %s\n' "$n" "$(hwm "${PID[$n]}")"
done
for n in signet signet-b signet-tmpfs; do
  [ -n "${METRICS[$n]:-}" ] || continue
  echo "$n store: $(curl -s "${METRICS[$n]}" | grep -E '^signet_store_(commits|committed)_total' |
    tr '\n' ' ')"
done
for n in cfssl-sqlite cfssl-sqlite-wal cfssl-wal-nosync; do
  db=$T_DIR/cfssl.db
  [ "$n" = cfssl-sqlite-wal ] && db=$T_DIR/cfssl-wal.db
  [ "$n" = cfssl-wal-nosync ] && db=$T_DIR/cfssl-wal-nosync.db
  echo "$n rows: $(python3 -c 'import sqlite3,sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from certificates").fetchone()[0])' "$db")"
done
stop_server TERM
