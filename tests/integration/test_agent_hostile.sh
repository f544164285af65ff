#!/usr/bin/env bash
# test_agent_hostile.sh: `signet agent` and `signet certs list` against a
# server whose TLS certificate they trust but which answers as a broken or
# hostile one would (hostile_server.py):
# - a renewal answered for another SPIFFE ID is refused, and the SVID held
#   stays published;
# - text around and between the PEM blocks never reaches svid.pem or
#   bundle.pem, which hold the certificates only;
# - an SVID from another CA, sent with that CA's root as the bundle, is
#   refused: --ca decides what an SVID must chain to;
# - 2-second SVIDs whose renew_after is "now" are renewed at most every 5 s;
# - a 429 with Retry-After: 3600 delays the next renewal by at most half of
#   what is left of the SVID, and an expired SVID is replaced with the token;
# - a renewal refused with 403 falls back to the token, as a 401 does;
# - a listing whose "next" cursor goes back and forth stops at once;
# - a listing follows "next" past pages with no record.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh" # wait_for
cd "$T_DIR" || exit 1

HOSTILE_PID=""
AGENT_PID=""
trap 't_exit_clients $AGENT_PID $HOSTILE_PID' EXIT

check "dev PKI is made" make_pki
# This server's certificate, for 127.0.0.1, from our own intermediate: the
# clients trust it, and then get answers no real signet gives.
make_tls() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -subj / \
    -out tls.csr &&
    printf 'subjectAltName=critical,IP:127.0.0.1,URI:spiffe://example.org/signet/server\n%s\n' \
      'extendedKeyUsage=serverAuth,clientAuth' >tls.ext &&
    openssl x509 -req -in tls.csr -CA pki/intermediate.crt -CAkey pki/intermediate.key \
      -CAcreateserial -days 1 -extfile tls.ext -out tls.leaf &&
    cat tls.leaf pki/intermediate.crt >tls.crt
}
# Another CA: a root and an intermediate of its own.
make_other() {
  mkdir -p other &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other/root.key \
      -subj /CN=other-root -days 1 -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign -out other/root.crt &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other/inter.key \
      -subj /CN=other-intermediate -out other/inter.csr &&
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' \
      >other/inter.ext &&
    openssl x509 -req -in other/inter.csr -CA other/root.crt -CAkey other/root.key \
      -CAcreateserial -days 1 -extfile other/inter.ext -out other/inter.crt
}
check "the hostile server's TLS certificate is made" make_tls
check "another CA is made" make_other
echo "not-a-real-token" >token

start_hostile() { # MODE
  rm -f port requests.log
  python3 "$T_HERE/hostile_server.py" "$T_DIR" port "$1" 2>"hostile-$1.log" &
  HOSTILE_PID=$!
  for _ in $(seq 1 100); do
    [ -s port ] && return 0
    sleep 0.1
  done
  return 1
}
stop_hostile() {
  kill -TERM "$HOSTILE_PID" 2>/dev/null && { wait "$HOSTILE_PID"; } 2>/dev/null
  HOSTILE_PID=""
}
agent() { # OUT [agent args...]: exec, so that a background agent's $! is signet's own
  local out=$1
  shift
  exec "$SIGNET_BIN" agent --server "https://127.0.0.1:$(cat port)" --ca pki/root.crt \
    --token-file token --out "$out" "$@"
}
stop_agent() {
  kill -TERM "$AGENT_PID" 2>/dev/null && { wait "$AGENT_PID"; } 2>/dev/null
  AGENT_PID=""
}
san_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' '; }
posts() { grep -c '^POST' requests.log 2>/dev/null || true; }

section "a renewal for another SPIFFE ID"
check "the server starts (otherid)" start_hostile otherid
(agent oid 2>oid.log) &
AGENT_PID=$!
check "the agent publishes its first SVID" wait_for 10 test -s oid/svid.pem
# Due 5 s after the first SVID; 30 s (half its life) when the answer came
# so late, on a loaded machine, that renew_after had already passed.
check "it refuses the renewal naming another SPIFFE ID" \
  wait_for 40 grep -q 'another SPIFFE ID' oid.log
expect_eq "svid.pem still names the identity first given" "$(san_of oid/svid.pem)" \
  "URI:spiffe://example.org/app/web"
stop_agent
stop_hostile

section "text around the PEM blocks"
check "the server starts (junk)" start_hostile junk
(agent junk --once 2>junk.log)
expect_eq "the agent takes the SVID (exit 0)" "$?" 0
check "svid.pem holds no text of the server's but the certificates" \
  sh -c '! grep -q "rm -rf\|junk\|hello" junk/svid.pem && test "$(grep -c "BEGIN CERTIFICATE" junk/svid.pem)" = 2'
check "bundle.pem holds the root only, no key block, no text" \
  sh -c '! grep -q "PRIVATE KEY\|not pem" junk/bundle.pem && test "$(grep -c "BEGIN CERTIFICATE" junk/bundle.pem)" = 1'
check "the SVID verifies against bundle.pem" \
  openssl verify -CAfile junk/bundle.pem -untrusted junk/svid.pem junk/svid.pem
stop_hostile

section "an SVID from another CA"
check "the server starts (foreign)" start_hostile foreign
(agent foreign --once 2>foreign.log)
expect_eq "the agent refuses it (exit 1)" "$?" 1
check "... saying it does not verify against --ca" grep -q 'does not verify against --ca' foreign.log
check "... and publishes nothing" test ! -e foreign/svid.pem
stop_hostile

section "2-second SVIDs, renew_after at once"
check "the server starts (short)" start_hostile short
(agent short 2>short.log) &
AGENT_PID=$!
sleep 8
stop_agent
n=$(posts)
check "in 8 s the agent asked at most 3 times (at least 5 s apart), asked $n" \
  test "$n" -ge 1 -a "$n" -le 3
stop_hostile

section "an overloaded server asking for an hour's wait"
check "the server starts (busy)" start_hostile busy
(agent busy 2>busy.log) &
AGENT_PID=$!
check "the agent publishes its first SVID (20 s long)" wait_for 10 test -s busy/svid.pem
# Due at 5 s; the server then says 3600 s, but the agent waits at most half
# of what is left of its SVID: about 12.5 s, 16 s, 18 s.
check "it tries to renew again before the SVID expires, Retry-After: 3600 notwithstanding" \
  wait_for 20 sh -c 'test "$(grep -c "^POST /v1/renew" requests.log)" -ge 2'
check "once it has expired, it asks with the token again" \
  wait_for 20 sh -c 'test "$(grep -c "^POST /v1/sign" requests.log)" -ge 2'
stop_agent
stop_hostile

section "a renewal refused with 403"
check "the server starts (forbidden)" start_hostile forbidden
(agent forbidden 2>forbidden.log) &
AGENT_PID=$!
check "the agent publishes its first SVID" wait_for 10 test -s forbidden/svid.pem
check "it falls back to the token after the 403 (sign, renew, sign)" \
  wait_for 40 sh -c 'grep "^POST" requests.log | head -n 3 | tr "\n" " " | grep -q "^POST /v1/sign POST /v1/renew POST /v1/sign "'
check "... saying so" grep -q 'falling back to the token' forbidden.log
stop_agent
stop_hostile

section "a listing whose cursor goes back and forth"
check "the server starts (certs)" start_hostile certs
timeout 20 "$SIGNET_BIN" certs list --server "https://127.0.0.1:$(cat port)" --cert tls.crt \
  --key tls.key --ca pki/root.crt >certs.out 2>certs.log
expect_eq "signet certs list ends by itself" "$?" 0
n=$(grep -c '^GET /v1/certs' requests.log)
check "after at most 3 pages ($n)" test "$n" -le 3
stop_hostile

section "a listing with pages that hold no record"
check "the server starts (sparse)" start_hostile sparse
timeout 20 "$SIGNET_BIN" certs list --status revoked --json --server "https://127.0.0.1:$(cat port)" \
  --cert tls.crt --key tls.key --ca pki/root.crt >sparse.out 2>sparse.log
expect_eq "signet certs list exits 0" "$?" 0
check "... and prints the record after two empty pages" \
  python3 -c 'import json,sys; sys.exit([r["serial"] for r in json.load(open(sys.argv[1]))] != ["2abc"])' \
  sparse.out
expect_eq "... in 3 requests" "$(grep -c '^GET /v1/certs' requests.log)" 3
stop_hostile
finish
