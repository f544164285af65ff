#!/usr/bin/env bash
# test_faults_crash.sh: fault injection, SIGKILL. FAULT_ROUNDS (default 20)
# times: concurrent issuance and revocation load (faults_load.py), SIGKILL at
# a random moment 0.3-1.0 s in, then the store must open clean with mdb_stat
# (lmdb-utils) and, after a restart on the same store, every certificate a
# client got a 201 for must be there (GET /v1/certs/{serial} as an admin),
# every revocation a client got a 200 for must be there (status "revoked"),
# in the CRL, and answered "revoked" by OCSP (a sample of each round's). A last
# check repeats the CRL check for everything and renews with one certificate.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"
cd "$T_DIR" || exit 1
LOAD="python3 $T_HERE/faults_load.py"
ROUNDS=${FAULT_ROUNDS:-20}

if ! command -v mdb_stat >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lmdb-utils >/dev/null 2>&1
fi
check "mdb_stat (lmdb-utils) is installed" command -v mdb_stat
check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server
check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
make_csr w
body w.csr >w.json
tok=$(k8s_token ES256 ec1)
mkdir -p load

# mdb_clean: mdb_stat reads every database of the environment without error.
mdb_clean() {
  mdb_stat -a -e "$T_DIR/db" >"$T_DIR/mdb_stat.txt" 2>&1 || {
    cat "$T_DIR/mdb_stat.txt"
    return 1
  }
  grep -c '^Status of' "$T_DIR/mdb_stat.txt" | sed 's/^/databases: /'
}

round_failures=0
for round in $(seq 1 "$ROUNDS"); do
  if [ -z "$SRV_PID" ]; then
    start_server || { t_fail "round $round: the server restarts on the same store"; break; }
  fi
  $LOAD load "$HTTPS_PORT" pki/root.crt w.json "$tok" admin.crt admin.key load 4 2 \
    >>load.log 2>&1 &
  load_pid=$!
  # A random moment 0.3-1.0 s into the load.
  sleep "$(python3 -c 'import random; print("%.2f" % random.uniform(0.3, 1.0))')"
  stop_server KILL
  wait "$load_pid"
  if ! mdb_clean >"$T_DIR/round.txt" 2>&1; then
    t_fail "round $round: the store opens clean after SIGKILL" "$(tail -3 round.txt)"
    round_failures=$((round_failures + 1))
    continue
  fi
  if ! start_server; then
    t_fail "round $round: the server restarts on the same store"
    break
  fi
  if $LOAD verify "$HTTPS_PORT" "$HTTP_PORT" pki/root.crt pki/intermediate.crt admin.crt admin.key \
    load >round.txt 2>&1; then
    echo "round $round: $(tail -1 round.txt)"
  else
    round_failures=$((round_failures + 1))
    t_fail "round $round: every acknowledged issuance and revocation survived" "$(cat round.txt)"
  fi
done
expect_eq "all $ROUNDS SIGKILL rounds kept every acknowledged write" "$round_failures" 0
issued=$(find load/issued -type f ! -name '.*' | wc -l)
revoked=$(find load/revoked -type f ! -name '.*' | wc -l)
check "the load got certificates ($issued) and revocations ($revoked) acknowledged" \
  test "$issued" -gt "$ROUNDS" -a "$revoked" -gt 0
if grep -E 'answered (5[0-9][0-9])' load.log >/dev/null; then
  t_fail "the load never saw a 5xx" "$(grep -E 'answered 5' load.log | head -3)"
else
  t_ok "the load never saw a 5xx"
fi

# One never-revoked certificate renews over mTLS (the store knows it as valid).
renew_one() {
  local s
  for s in $(ls load/issued); do
    [ -e "load/revoked/$s" ] && continue
    # Its revocation may have been sent without an answer: ask the store.
    [ "$(as admin GET "/v1/certs/$s")" = 200 ] && [ "$(json_get out status)" = valid ] || continue
    cp "load/issued/$s" one.crt
    st=$(curl -s --cacert pki/root.crt --cert one.crt --key w.key -H 'Content-Type: application/json' \
      --data-binary @w.json -o renew.out -w '%{http_code}' "$HTTPS_URL/v1/renew")
    echo "renewing $s: $st"
    [ "$st" = 201 ]
    return
  done
  return 1
}
check "a certificate issued before a SIGKILL renews" renew_one
last_output
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
check "the store opens clean after the last stop" mdb_clean
finish
