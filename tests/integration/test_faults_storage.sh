#!/usr/bin/env bash
# test_faults_storage.sh: fault injection, storage.
# (a) A store with a 1 MiB map (store.map_size_mb 1), filled by issuance until
#     it answers 503 unavailable: /readyz is then 503, /healthz 200, and the
#     reads (bundle, ca.crt, CRL, OCSP) keep working; a revocation is 200 or
#     503 unavailable, never a 500; the store opens clean (mdb_stat).
# (b) A store on a full filesystem (a 4 MiB tmpfs filled up with dd):
#     issuance 503 unavailable, /readyz 503, /healthz 200; after the filler is
#     deleted /readyz is 200 again by itself (it probes the store with a small
#     write) and issuance resumes; after a restart
#     nothing is corrupted (mdb_stat) and every serial issued before is still
#     in the store. Meanwhile the CRL (crl.refresh 2s here) is still re-signed,
#     with larger numbers: signing does not wait for the store to record its
#     number. The tmpfs is unmounted on exit.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"
cd "$T_DIR" || exit 1

FS=$T_DIR/fs
READER_PID=""
faults_exit() {
  local rc=$?
  if [ -n "$READER_PID" ]; then
    kill -KILL "$READER_PID" 2>/dev/null
    { wait "$READER_PID"; } 2>/dev/null
  fi
  if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill -KILL "$SRV_PID" 2>/dev/null
    { wait "$SRV_PID"; } 2>/dev/null
  fi
  if mountpoint -q "$FS" 2>/dev/null; then
    umount "$FS" 2>/dev/null || umount -l "$FS"
  fi
  (exit "$rc")
  t_exit
}
trap faults_exit EXIT

if ! command -v mdb_stat >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lmdb-utils >/dev/null 2>&1
fi
check "mdb_stat (lmdb-utils) is installed" command -v mdb_stat
check "dev PKI is made" make_pki
write_config
make_csr w
body w.csr >w.json
tok=$(k8s_token ES256 ec1)

code_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
mdb_clean() { mdb_stat -a -e "$1" >/dev/null; }

# all_in_store SERIALS: GET /v1/certs/{serial} as the admin is 200 for each.
all_in_store() {
  python3 - "$HTTPS_PORT" pki/root.crt admin.crt admin.key "$1" <<'PY'
import http.client, ssl, sys
port, cafile, crt, key, path = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
ctx.load_cert_chain(crt, key)
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
serials = open(path).read().split()
missing = []
for s in serials:
    conn.request("GET", "/v1/certs/" + s)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        missing.append((s, r.status))
print(len(serials), "serials looked up,", len(missing), "missing", missing[:5])
assert serials and not missing
PY
}

section "(a) a 1 MiB store fills up"
sed -i 's/"map_size_mb": 64/"map_size_mb": 1/' signet.json
check "server starts with a 1 MiB store" start_server
check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID (web) is issued" issue web spiffe://example.org/ns/default/sa/web
: >a.serials
check "issuing until the store is full ends in 503 unavailable" sign_until_full w.json "$tok" a.serials
last_output
expect_eq "/readyz is 503 while the store is full" "$(code_of "$HTTP_URL/readyz")" 503
expect_eq "/healthz is still 200" "$(code_of "$HTTP_URL/healthz")" 200
expect_eq "GET /v1/bundle still works" "$(code_of "$HTTP_URL/v1/bundle")" 200
expect_eq "GET /ca.crt still works" "$(code_of -o ca.der "$HTTP_URL/ca.crt")" 200
crl_ok() {
  curl -sf -o crl.der "$HTTP_URL/crl" && openssl crl -inform DER -in crl.der -noout \
    -CAfile pki/intermediate.crt -lastupdate -nextupdate
}
check "GET /crl still answers a CRL" crl_ok
expect_eq "GET /crl.pem still works" "$(code_of "$HTTP_URL/crl.pem")" 200
expect_eq "OCSP still answers: web is good" "$(ocsp_status web)" good
st=$(as admin POST /v1/revoke "$(revoke_body "$(serial_of web)" keyCompromise)")
revoke_ok() {
  echo "revoke on a full store: $st $(head -c 200 out)"
  [ "$st" = 200 ] || { [ "$st" = 503 ] && [ "$(json_get out error)" = unavailable ]; }
}
check "a revocation on a full store is 200 or 503 unavailable, never 500" revoke_ok
last_output
if [ "$st" = 200 ]; then
  web_revoked() { [ "$(ocsp_status web)" = revoked ]; }
  check "... and, being 200, OCSP says revoked" wait_for 2 web_revoked
fi
expect_eq "/healthz is still 200 after all that" "$(code_of "$HTTP_URL/healthz")" 200
stop_server TERM
expect_eq "SIGTERM exits 0 with a full store" "$SRV_RC" 0
check "the full store opens clean (mdb_stat)" mdb_clean db
check "server restarts on the full store" start_server
check "every serial issued before filling up is in the store" all_in_store a.serials
last_output
stop_server TERM

section "(b) a store on a full filesystem"
mkdir -p "$FS"
if ! mount -t tmpfs -o size=4m tmpfs "$FS" 2>mount.err; then
  t_fail "mount a 4 MiB tmpfs (mount not permitted here?)" "$(cat mount.err)"
  finish
fi
t_ok "a 4 MiB tmpfs is mounted"
sed -i "s|\"map_size_mb\": 1|\"map_size_mb\": 64|; s|\"path\": \"db\"|\"path\": \"fs/db\"|" signet.json
# A short crl.refresh, so that scheduled CRLs are signed while the store is full.
sed -i 's|"refresh": "1h"|"refresh": "2s"|' signet.json
mkdir -p fs/db
log_b=$(wc -l <server.log) # the log lines of (a) before this
check "server starts with its store on the tmpfs" start_server
check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
: >b.serials
sign_n() { # N: issues N certificates, appending their serials to b.serials
  python3 - "$HTTPS_PORT" pki/root.crt w.json "$tok" b.serials "$1" <<'PY'
import http.client, json, ssl, sys
port, cafile, body_file, token, out, n = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
body = open(body_file, "rb").read()
with open(out, "a") as f:
    for i in range(int(n)):
        conn.request("POST", "/v1/sign", body=body, headers={
            "Content-Type": "application/json", "Authorization": "Bearer " + token})
        r = conn.getresponse()
        data = r.read()
        assert r.status == 201, (i, r.status, data[:200])
        f.write(json.loads(data)["serial"] + "\n")
print(n, "issued")
PY
}
check "issuing works before the filesystem fills" sign_n 20
# A reader that stays open (as an mdb_copy backup would) keeps LMDB from
# reusing the pages later writes free: with the filesystem full, no write
# can commit, not even the small ones that otherwise slip through now and then.
check "the LMDB reader helper builds" \
  cc -O1 -Wall -Werror -o "$T_DIR/hold_reader" "$T_HERE/hold_reader.c" -llmdb
"$T_DIR/hold_reader" fs/db >reader.out 2>&1 &
READER_PID=$!
check "a read transaction is held open on the store" wait_for 5 grep -q holding reader.out
# dd stops with ENOSPC once the tmpfs is full.
dd if=/dev/zero of=fs/filler bs=16k >dd.log 2>&1
check "the filesystem is full (dd: No space left on device)" grep -q 'No space left' dd.log
df -k "$FS" | tail -1 | awk '{print "tmpfs: " $3 " KiB used, " $4 " KiB free"}'
# LMDB may still reuse pages it already has in its file: issue until refused.
check "issuing on the full filesystem ends in 503 unavailable" sign_until_full w.json "$tok" b.serials 2000
last_output
expect_eq "/readyz is 503 while the store cannot be written" "$(code_of "$HTTP_URL/readyz")" 503
expect_eq "/healthz is still 200" "$(code_of "$HTTP_URL/healthz")" 200
expect_eq "GET /v1/bundle still works" "$(code_of "$HTTP_URL/v1/bundle")" 200
check "GET /crl still answers a CRL" crl_ok
# The CRL number used to be taken by a synced write before signing: with the
# store unwritable no CRL was signed, and once crl.validity passed relying
# parties refused every certificate.
n0=$(crl_number "$HTTP_URL/crl")
crl_above() { [ "$(crl_number "$HTTP_URL/crl")" -gt "$1" ]; }
check "a scheduled CRL is still signed, with a larger number ($n0 before)" wait_for 10 crl_above "$n0"
n1=$(crl_number "$HTTP_URL/crl")
check "... and the next one with a larger one again ($n1)" wait_for 10 crl_above "$n1"
expect_eq "... while issuance still answers 503" \
  "$(code_of -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    --cacert pki/root.crt --data-binary @w.json "$HTTPS_URL/v1/sign")" 503
check "... and it verifies" crl_ok
check "the server logged once, not per CRL, that the CRL number was not recorded" \
  sh -c "[ \$(tail -n +$((log_b + 1)) server.log | grep -c 'CRL number not recorded') -eq 1 ]"
rm -f fs/filler
kill "$READER_PID" 2>/dev/null
{ wait "$READER_PID"; } 2>/dev/null
READER_PID=""
# No issuance comes to a server that is not ready (a Service drops it), so
# /readyz must learn by itself that the store takes writes again.
ready_again() { [ "$(code_of "$HTTP_URL/readyz")" = 200 ]; }
check "after the filler is deleted, /readyz is 200 again within 15 s, before any issuance" \
  wait_for 15 ready_again
check "issuance resumes" sign_n 20
expect_eq "/readyz is still 200" "$(code_of "$HTTP_URL/readyz")" 200
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
check "the store on the tmpfs opens clean (mdb_stat)" mdb_clean fs/db
check "server restarts on the same store" start_server
check "every serial issued before, during and after the full filesystem is in the store" \
  all_in_store b.serials
last_output
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
finish
