#!/usr/bin/env bash
# test_faults_clock.sh: fault injection, the clock and the intermediate's
# lifetime.
# (a) An intermediate close to expiry (signed with --ttl 5m) clamps every
#     leaf: asked for 1h, a leaf's notAfter is the intermediate's; asked for
#     2m, it is not clamped. The server's own TLS certificate is clamped too.
# (b) The intermediate expires while the server runs: the server runs under
#     libfaketime (package faketime) with a timestamp file it re-reads, and
#     the test moves its clock 6 minutes ahead. /readyz is then 503 saying the
#     intermediate has expired, issuance 503 unavailable saying so, /healthz
#     200; moved back, the server is ready again.
# (c) An intermediate that expired yesterday (signed by hand with `openssl ca`
#     -enddate in the past): with a server certificate from files (tls.cert,
#     tls.key) the server starts, /readyz is 503 and issuance 503 unavailable,
#     both saying the intermediate has expired; without them it cannot issue
#     its own TLS certificate and exits 1 with a message saying so.
# (d) (run before (c)) A provisioner token stays spent after the store's
#     prune ran with the clock 2 h ahead and the clock was set back, which
#     dropped its id; a token minted since, expiring later, is accepted.
# (e) (run before (c)) A 1 MiB store filled with 1-minute certificates: eight
#     days later (libfaketime) the server starts on it and issues at once,
#     because start-up prunes records past the 7-day retention.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

FAKETIME_LIB=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
  /usr/lib/*/faketime/libfaketimeMT.so.1; do
  [ -e "$f" ] && FAKETIME_LIB=$f && break
done
if [ -z "$FAKETIME_LIB" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null 2>&1
  FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
fi
check "libfaketime (package faketime) is installed" test -n "$FAKETIME_LIB"

check "dev PKI is made" make_pki
check "a 5-minute intermediate is signed" "$SIGNET_BIN" root sign-intermediate --dir pki \
  --csr pki/intermediate.csr --out pki/short.crt --ttl 5m --permit-dns localhost \
  --passphrase-file pki/root.pass
write_config
set_config() { # python-statements on the dict c
  python3 - "$1" <<'PY'
import json, sys
c = json.load(open("signet.json"))
exec(sys.argv[1])
json.dump(c, open("signet.json", "w"), indent=1)
PY
}
set_config 'c["pki"]["intermediate_cert"] = "pki/short.crt"'
code_of() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' "$1"; }
epoch_of() { # PEM-FILE: notAfter in seconds since the epoch
  date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s
}
make_csr w
body w.csr 1h >w1h.json
body w.csr 2m >w2m.json
tok=$(k8s_token ES256 ec1)

# The server re-reads its clock offset from clock.txt at each time() call.
echo "+0" >clock.txt
check "server starts under libfaketime and becomes ready" start_server \
  LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T_DIR/clock.txt" FAKETIME_NO_CACHE=1 \
  FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"

section "(a) a leaf never outlives its intermediate"
inter_end=$(epoch_of pki/short.crt)
expect_eq "a 1h request is issued" "$(post "$HTTPS_URL/v1/sign" "$tok" w1h.json o1h)" 201
split_response o1h l1h
expect_eq "its notAfter is the intermediate's" "$(epoch_of l1h.crt)" "$inter_end"
json_end=$(date -d "$(json_get o1h not_after)" +%s)
expect_eq "the answer's not_after says the same" "$json_end" "$inter_end"
expect_eq "a 2m request is issued" "$(post "$HTTPS_URL/v1/sign" "$tok" w2m.json o2m)" 201
split_response o2m l2m
check "its notAfter is not clamped (before the intermediate's)" \
  test "$(epoch_of l2m.crt)" -lt "$inter_end"
server_cert_end() {
  openssl s_client -connect "127.0.0.1:$HTTPS_PORT" </dev/null 2>/dev/null |
    openssl x509 -noout -enddate >srv.end && cat srv.end &&
    test "$(date -d "$(cut -d= -f2 srv.end)" +%s)" -le "$inter_end"
}
check "the server's own TLS certificate ends no later than the intermediate" server_cert_end

section "(b) the intermediate expires while the server runs"
echo "+6m" >clock.txt
ready_says_expired() {
  st=$(code_of "$HTTP_URL/readyz" ready.json)
  echo "$st $(cat ready.json)"
  [ "$st" = 503 ] && [ "$(json_get ready.json error)" = unavailable ] &&
    json_get ready.json message | grep -q 'intermediate has expired'
}
check "/readyz is 503: the intermediate has expired" ready_says_expired
last_output
# The server's TLS certificate expired with the intermediate: -k to read the answer.
sign_says_expired() {
  st=$(post "$HTTPS_URL/v1/sign" "$tok" w1h.json oexp -k)
  echo "$st $(cat oexp)"
  [ "$st" = 503 ] && [ "$(json_get oexp error)" = unavailable ] &&
    json_get oexp message | grep -q 'intermediate CA has expired'
}
check "issuance is 503 unavailable: the intermediate CA has expired" sign_says_expired
last_output
expect_eq "/healthz is still 200" "$(code_of "$HTTP_URL/healthz")" 200
expect_eq "GET /ca.crt still works" "$(code_of "$HTTP_URL/ca.crt")" 200
echo "+0" >clock.txt
expect_eq "with the clock moved back, /readyz is 200 again" "$(code_of "$HTTP_URL/readyz")" 200
expect_eq "... and issuance works again" "$(post "$HTTPS_URL/v1/sign" "$tok" w2m.json o)" 201
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0

section "(d) a prune while the clock runs ahead does not revive a spent token"
# The store drops spent provisioner-token ids once they expire, at each CRL
# refresh (here every 2 s). With the clock 2 h ahead for one refresh, the id
# of a token still valid once the clock is set back is dropped too; the
# token must stay spent all the same.
set_config 'c["pki"]["intermediate_cert"] = "pki/intermediate.crt"; c["crl"]["refresh"] = "2s"'
echo "+0" >clock.txt
check "server starts under libfaketime with a 2 s CRL refresh" start_server \
  LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T_DIR/clock.txt" FAKETIME_NO_CACHE=1 \
  FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
once=$(prov_token spiffe://example.org/ns/default/sa/once)
body w.csr 2m >w2m.json
expect_eq "a provisioner token is used" "$(post "$HTTPS_URL/v1/sign" "$once" w2m.json o)" 201
expect_eq "and refused the second time" "$(post "$HTTPS_URL/v1/sign" "$once" w2m.json o)" 401
echo "+2h" >clock.txt
sleep 5 # at least one refresh, and its prune, with the clock ahead
echo "+0" >clock.txt
st=$(post "$HTTPS_URL/v1/sign" "$once" w2m.json o)
expect_eq "with the clock set back, the token is still refused" \
  "$st $(json_get o error)" "401 unauthenticated"
later=$(prov_token spiffe://example.org/ns/default/sa/later)
expect_eq "a token minted since, expiring later, is accepted" \
  "$(post "$HTTPS_URL/v1/sign" "$later" w2m.json o)" 201
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
set_config 'c["crl"]["refresh"] = "1h"'

section "(e) a store full of long-expired records: start-up prunes them"
set_config 'c["store"] = {"path": "dbfull", "map_size_mb": 1}'
check "server starts with a 1 MiB store" start_server
body w.csr 1m >w1m.json
check "1-minute certificates fill the store until issuance is 503" sign_until_full w1m.json "$tok"
last_output
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
# Eight days on, every record is past the 7-day retention.
echo "+8d" >clock.txt
check "eight days later the server starts on that store" start_server \
  LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T_DIR/clock.txt" FAKETIME_NO_CACHE=1 \
  FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
tok8=$(k8s_token ES256 ec1 default web '{"iat": "now+691200", "exp": "now+694800"}')
# -k: the server's TLS certificate starts eight days from curl's now.
expect_eq "and issues at once: the expired records were pruned at start-up" \
  "$(post "$HTTPS_URL/v1/sign" "$tok8" w1m.json o -k)" 201
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
echo "+0" >clock.txt
set_config 'c["store"] = {"path": "db", "map_size_mb": 64}'

section "(c) an intermediate that expired yesterday"
mkdir -p hc
: >hc/index.txt
openssl rand -hex 16 >hc/serial
cat >hc/ca.cnf <<CNF
[ca]
default_ca = c
[c]
dir = $T_DIR/hc
database = $T_DIR/hc/index.txt
new_certs_dir = $T_DIR/hc
serial = $T_DIR/hc/serial
default_md = sha256
policy = p
copy_extensions = none
x509_extensions = ext
unique_subject = no
[p]
organizationName = optional
commonName = optional
[ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:spiffe://example.org
nameConstraints = critical,permitted;URI:example.org,permitted;DNS:localhost
CNF
check "an intermediate valid from 30 days ago until yesterday is signed with openssl ca" \
  openssl ca -batch -config hc/ca.cnf -cert pki/root.crt -keyfile pki/root.key \
  -passin file:pki/root.pass -in pki/intermediate.csr -out pki/expired.crt \
  -subj "/O=signet/CN=example.org intermediate" \
  -startdate "$(date -u -d '30 days ago' +%Y%m%d%H%M%SZ)" \
  -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" -notext
set_config 'c["pki"]["intermediate_cert"] = "pki/expired.crt"'
start_fails() {
  timeout 30 "$SIGNET_BIN" serve --config signet.json 2>start.err
  local rc=$?
  echo "exit $rc: $(tail -1 start.err)"
  [ "$rc" = 1 ] && grep -q 'intermediate CA has expired' start.err
}
check "without tls.cert the server exits 1 saying the intermediate CA has expired" start_fails
last_output

# A server certificate from files, signed by the (valid) 1-year intermediate.
make_csr srv
hand_sign srv "$(date -u -d '1 hour ago' +%Y%m%d%H%M%SZ)" \
  "$(date -u -d '1 day' +%Y%m%d%H%M%SZ)" spiffe://example.org/signet/server
cat srv.crt pki/intermediate.crt >srv.chain.pem
set_config 'c["tls"] = {"cert": "srv.chain.pem", "key": "srv.key"}'
# start_live: start_server's twin that waits for /healthz, since /readyz
# will not come up.
start_live() {
  "$SIGNET_BIN" serve --config "$T_DIR/signet.json" 2>>"$T_DIR/server.log" &
  SRV_PID=$!
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null "$HTTP_URL/healthz" && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$T_DIR/server.log"
  return 1
}
check "with tls.cert and tls.key the server starts (live, not ready)" start_live
check "/readyz is 503: the intermediate has expired" ready_says_expired
last_output
check "issuance is 503 unavailable: the intermediate CA has expired" sign_says_expired
last_output
expect_eq "/healthz is 200" "$(code_of "$HTTP_URL/healthz")" 200
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
finish
