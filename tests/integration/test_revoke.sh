#!/usr/bin/env bash
# test_revoke.sh: POST /v1/revoke and GET /v1/certs[/{serial}] against a real
# server: who may revoke (an admin, or the certificate itself over mTLS), the
# refusals (401, 403, 404, 400, 415), idempotence (the first revocation
# stands), the admin's list and show with pagination and strict query
# parsing, and a revocation surviving SIGKILL right after its 200.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }

check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID (web) is issued" issue web spiffe://example.org/ns/default/sa/web
check "a second workload SVID (db) is issued" issue db spiffe://example.org/ns/default/sa/db
check "a third workload SVID (cache) is issued" issue cache spiffe://example.org/ns/default/sa/cache
WEB=$(serial_of web)
DB=$(serial_of db)
CACHE=$(serial_of cache)

echo "# refusals"
st=$(as - POST /v1/revoke "$(revoke_body "$WEB")")
refused "no client certificate is 401" 401 unauthenticated "$st"
st=$(as web POST /v1/revoke "$(revoke_body "$DB")")
refused "a workload revoking another serial is 403" 403 forbidden "$st"
st=$(as web POST /v1/revoke "$(revoke_body 1234abcd)")
refused "a workload revoking an unknown serial is 403 (existence not revealed)" 403 forbidden \
  "$st"
st=$(as admin POST /v1/revoke "$(revoke_body 1234abcd)")
refused "an admin revoking an unknown serial is 404" 404 not_found "$st"
st=$(as admin POST /v1/revoke "$(revoke_body "$WEB" stolen)")
refused "an unknown reason is 400" 400 bad_request "$st"
st=$(as admin POST /v1/revoke "$(revoke_body "$WEB" removeFromCRL)")
refused "removeFromCRL (delta CRLs only) is 400" 400 bad_request "$st"
st=$(as admin POST /v1/revoke '{"serial":"xyz"}')
refused "a serial that is not hex is 400" 400 bad_request "$st"
st=$(as admin POST /v1/revoke "{\"serial\":\"$WEB\",\"extra\":1}")
refused "an unknown key in the body is 400" 400 bad_request "$st"
st=$(curl -s --cacert "$T_DIR/pki/root.crt" --cert "$T_DIR/admin.crt" --key "$T_DIR/admin.key" \
  -H 'Content-Type: text/plain' --data-binary "$(revoke_body "$WEB")" -o "$T_DIR/out" \
  -w '%{http_code}' "$HTTPS_URL/v1/revoke")
refused "a body that is not application/json is 415" 415 unsupported_media_type "$st"
st=$(curl -s -o "$T_DIR/out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "$(revoke_body "$WEB")" "$HTTP_URL/v1/revoke")
refused "POST /v1/revoke is not served on plain HTTP" 404 not_found "$st"
hand_csr() { make_csr intruder; }
hand_csr
hand_sign intruder 20200101000000Z 20990101000000Z spiffe://example.org/ns/default/sa/intruder
st=$(as intruder POST /v1/revoke "$(revoke_body "$WEB")")
refused "a certificate signed by the intermediate but never recorded is 401" 401 \
  unauthenticated "$st"

echo "# the certificate revokes itself"
st=$(as web POST /v1/revoke "$(revoke_body "$WEB" keyCompromise)")
expect_eq "web revokes its own certificate over mTLS: 200" "$st" 200
expect_eq "the answer names the serial" "$(jstr "$T_DIR/out" serial)" "$WEB"
expect_eq "the answer names the reason" "$(jstr "$T_DIR/out" reason)" keyCompromise
first_at=$(jstr "$T_DIR/out" revoked_at)
check "revoked_at is an RFC 3339 time" \
  sh -c "echo '$first_at' | grep -Eq '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z\$'"
sleep 1.1
st=$(as web POST /v1/revoke "$(revoke_body "$WEB" superseded)")
expect_eq "the revoked certificate asking again gets 200" "$st" 200
expect_eq "... with the first reason" "$(jstr "$T_DIR/out" reason)" keyCompromise
expect_eq "... and the first time" "$(jstr "$T_DIR/out" revoked_at)" "$first_at"
st=$(as web POST /v1/revoke "$(revoke_body "$DB")")
refused "the revoked certificate cannot revoke anything else (401)" 401 unauthenticated \
  "$st"
st=$(as admin POST /v1/revoke "$(revoke_body "$WEB" cessationOfOperation)")
expect_eq "an admin revoking it again gets 200" "$st" 200
expect_eq "... and the first revocation still stands" \
  "$(jstr "$T_DIR/out" reason) $(jstr "$T_DIR/out" revoked_at)" "keyCompromise $first_at"

echo "# an admin revokes"
st=$(as admin POST /v1/revoke "$(revoke_body "$(echo "$DB" | tr a-f A-F)")")
expect_eq "an admin revokes db (serial in upper case, no reason): 200" "$st" 200
expect_eq "the serial is answered in lower case" "$(jstr "$T_DIR/out" serial)" "$DB"
expect_eq "no reason is unspecified" "$(jstr "$T_DIR/out" reason)" unspecified

echo "# GET /v1/certs/{serial}"
st=$(as admin GET "/v1/certs/$WEB")
expect_eq "an admin shows web: 200" "$st" 200
expect_eq "its status is revoked" "$(jstr "$T_DIR/out" status)" revoked
expect_eq "its reason is keyCompromise" "$(jstr "$T_DIR/out" reason)" keyCompromise
expect_eq "its SPIFFE ID is web's" "$(jstr "$T_DIR/out" spiffe_id)" spiffe://example.org/ns/default/sa/web
expect_eq "its auth_method is provisioner" "$(jstr "$T_DIR/out" auth_method)" provisioner
check "its certificate is web's" sh -c "python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"certificate\"], end=\"\")' '$T_DIR/out' | cmp - '$T_DIR/web.crt'"
check "the answer carries Cache-Control: no-store" grep -qi '^Cache-Control: no-store' "$T_DIR/out.h"
st=$(as admin GET "/v1/certs/$CACHE")
expect_eq "cache is valid and has no revoked_at" "$(jstr "$T_DIR/out" status)/$(jstr "$T_DIR/out" revoked_at)" valid/
st=$(as admin GET /v1/certs/1234abcd)
refused "an unknown serial is 404" 404 not_found "$st"
st=$(as admin GET /v1/certs/nothex)
refused "a serial that is not hex is 400" 400 bad_request "$st"
st=$(as cache GET "/v1/certs/$CACHE")
refused "a workload cannot show even its own record (403)" 403 forbidden "$st"
st=$(as - GET "/v1/certs/$CACHE")
refused "no client certificate is 401" 401 unauthenticated "$st"

echo "# GET /v1/certs"
st=$(as admin GET "/v1/certs?status=revoked")
expect_eq "an admin lists revoked certificates: 200" "$st" 200
got=$(python3 -c 'import json,sys; print(" ".join(sorted(c["serial"] for c in json.load(open(sys.argv[1]))["certs"])))' "$T_DIR/out")
expect_eq "... exactly web and db" "$got" "$(printf '%s\n' "$WEB" "$DB" | sort | tr '\n' ' ' | sed 's/ $//')"
st=$(as admin "GET" "/v1/certs?spiffe_id=spiffe://example.org/ns/default/sa/cache")
got=$(python3 -c 'import json,sys; print(" ".join(c["serial"] for c in json.load(open(sys.argv[1]))["certs"]))' "$T_DIR/out")
expect_eq "filtering by spiffe_id finds cache only" "$got" "$CACHE"
st=$(as admin GET "/v1/certs?status=valid")
got=$(python3 -c 'import json,sys; print(sorted({c["status"] for c in json.load(open(sys.argv[1]))["certs"]}))' "$T_DIR/out")
expect_eq "status=valid lists only valid records" "$got" "['valid']"
# Pages of 2 walked with "next" give the same records, in the same order, as one page.
st=$(as admin GET "/v1/certs?limit=1000")
all=$(python3 -c 'import json,sys; print(" ".join(c["serial"] for c in json.load(open(sys.argv[1]))["certs"]))' "$T_DIR/out")
check "one page of everything has no next" python3 -c 'import json,sys; sys.exit("next" in json.load(open(sys.argv[1])))' "$T_DIR/out"
# serials FILE: the serials of a list answer, in order.
serials() {
  grep -o '"serial":"[0-9a-f]*"' "$1" | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//'
}
check "serials reads a list answer like python does" \
  test "$(serials "$T_DIR/out")" = "$all"
walked="" after="" pages=0
while :; do
  st=$(as admin GET "/v1/certs?limit=2${after:+&after=$after}")
  [ "$st" = 200 ] || break
  pages=$((pages + 1))
  walked="$walked $(serials "$T_DIR/out")"
  after=$(jstr "$T_DIR/out" next)
  [ -n "$after" ] && [ "$pages" -lt 20 ] || break
done
expect_eq "pages of 2 followed by next list every record once, in order" "$(echo $walked)" "$all"
check "there were several pages" test "$pages" -ge 3
for q in "status=bogus" "limit=0" "limit=1001" "limit=ten" "after=xyz" "after=00" "colour=red" \
  "status=valid&status=revoked"; do
  st=$(as admin GET "/v1/certs?$q")
  refused "?$q is 400" 400 bad_request "$st"
done
st=$(as cache GET /v1/certs)
refused "a workload listing is 403" 403 forbidden "$st"
st=$(as - GET /v1/certs)
refused "listing without a client certificate is 401" 401 unauthenticated "$st"
st=$(curl -s -o "$T_DIR/out" -w '%{http_code}' "$HTTP_URL/v1/certs")
refused "GET /v1/certs is not served on plain HTTP" 404 not_found "$st"

echo "# a renewal racing the revocation of the certificate it presents"
# Either the renewal is recorded before the revocation is answered (and the
# admin's listing right after the 200 shows it, to be revoked in turn) or it
# is refused 401. An RSA-4096 CSR makes the renewal's signing slower, which
# widens the window between its checks and its commit.
openssl req -new -newkey rsa:4096 -nodes -keyout "$T_DIR/racer.key" -subj / \
  -out "$T_DIR/racer.csr" 2>/dev/null && body "$T_DIR/racer.csr" >"$T_DIR/race.json"
names=""
for i in $(seq 1 24); do
  issue "race$i" "spiffe://example.org/ns/default/sa/race$i" >/dev/null && names="$names race$i"
done
expect_eq "24 SVIDs to race with are issued" "$(echo $names | wc -w)" 24
if out=$(python3 "$(dirname "$0")/renew_revoke_race.py" "$T_DIR" "$HTTPS_PORT" \
  spiffe://example.org/ns/default/sa/ $names 2>&1); then
  t_ok "no renewal racing its revocation is delivered unrecorded by then: $(echo $out)"
else
  t_fail "no renewal racing its revocation is delivered unrecorded by then" "$out"
fi

echo "# durability"
st=$(as admin POST /v1/revoke "$(revoke_body "$CACHE" affiliationChanged)")
stop_server KILL
expect_eq "cache revoked (200), then the server killed with SIGKILL" "$st" 200
start_server || t_fail "the server restarts"
st=$(as admin GET "/v1/certs/$CACHE")
expect_eq "after the restart cache is still revoked for affiliationChanged" \
  "$st $(jstr "$T_DIR/out" status) $(jstr "$T_DIR/out" reason)" "200 revoked affiliationChanged"
expect_eq "OCSP says revoked after the restart" "$(ocsp_status cache -no_nonce | head -1)" revoked
check "the server is healthy" curl -fs "$HTTP_URL/healthz"
stop_server TERM
expect_eq "the server stops cleanly on SIGTERM" "$SRV_RC" 0
finish
