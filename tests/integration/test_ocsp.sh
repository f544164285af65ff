#!/usr/bin/env bash
# test_ocsp.sh: the OCSP responder (POST /ocsp, GET /ocsp/{base64}) against a
# real server, checked with `openssl ocsp`: good, then revoked with its reason
# right after POST /v1/revoke (also from the pre-signed cache, without a
# nonce), unknown for a serial never recorded, unauthorized for another
# issuer, RFC 5019 caching headers, nonces echoed, and malformed requests
# answered without harm.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }
P=$T_DIR/pki

check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID (web) is issued" issue web spiffe://example.org/ns/default/sa/web
check "a workload SVID (db) is issued" issue db spiffe://example.org/ns/default/sa/db
WEB=$(serial_of web)

# nonce_good REQ RESP: RESP verifies, echoes REQ's nonce and says good.
nonce_good() {
  local out
  out=$(openssl ocsp -reqin "$1" -respin "$2" -CAfile "$P/root.crt" -verify_other "$P/intermediate.crt" \
    -resp_text 2>&1)
  echo "$out"
  echo "$out" | grep -q '^Response verify OK' && ! echo "$out" | grep -qi 'nonce verify error' &&
    ! echo "$out" | grep -qi 'no nonce' && echo "$out" | grep -q 'Cert Status: good'
}

echo "# good"
check "openssl ocsp (with a nonce) verifies the response and says good" \
  sh -c "out=\$(openssl ocsp -issuer '$P/intermediate.crt' -cert '$T_DIR/web.crt' -url '$HTTP_URL/ocsp' \
    -CAfile '$P/root.crt' 2>&1); echo \"\$out\"; echo \"\$out\" | grep -q '^Response verify OK' &&
    echo \"\$out\" | grep -q 'web.crt: good' && ! echo \"\$out\" | grep -qi 'nonce'"
# metric NAME: the value of an unlabelled line of /metrics.
metric() { curl -s "$HTTP_URL/metrics" | sed -n "s/^$1 //p"; }
hits0=$(metric signet_ocsp_cache_hits_total) signs0=$(metric signet_ocsp_responses_signed_total)
expect_eq "without a nonce: good" "$(ocsp_status web -no_nonce)" good
expect_eq "... a miss: one response signed, no cache hit" \
  "$(metric signet_ocsp_responses_signed_total) $(metric signet_ocsp_cache_hits_total)" \
  "$((signs0 + 1)) $hits0"
expect_eq "without a nonce, again (from the cache): good" "$(ocsp_status web -no_nonce)" good
expect_eq "... a hit: nothing signed" \
  "$(metric signet_ocsp_responses_signed_total) $(metric signet_ocsp_cache_hits_total)" \
  "$((signs0 + 1)) $((hits0 + 1))"
check "the cache's capacity is a metric" sh -c "[ \"\$(curl -s '$HTTP_URL/metrics' |
  sed -n 's/^signet_ocsp_cache_capacity //p')\" -gt 0 ]"
# SHA-256, SHA-384 and SHA-512 CertIDs are answered too (RFC 5019 clients
# use SHA-1); SHA-224 is not one we answer for.
for h in sha256 sha384 sha512; do
  check "a $h CertID: good" sh -c "openssl ocsp -issuer '$P/intermediate.crt' -$h -cert '$T_DIR/web.crt' \
    -url '$HTTP_URL/ocsp' -CAfile '$P/root.crt' -no_nonce 2>&1 | grep -q 'web.crt: good'"
done
check "a sha224 CertID: unauthorized" sh -c "openssl ocsp -issuer '$P/intermediate.crt' -sha224 -cert '$T_DIR/web.crt' \
  -url '$HTTP_URL/ocsp' -CAfile '$P/root.crt' -no_nonce 2>&1 | grep -qi 'unauthorized'"

echo "# RFC 5019 caching headers on a response without a nonce"
openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/web.crt" -no_nonce -reqout "$T_DIR/req.der" >/dev/null 2>&1
curl -s -D "$T_DIR/post.h" -o "$T_DIR/post.der" -H 'Content-Type: application/ocsp-request' \
  --data-binary @"$T_DIR/req.der" "$HTTP_URL/ocsp"
check "Content-Type is application/ocsp-response" grep -qi '^Content-Type: application/ocsp-response' "$T_DIR/post.h"
check "Cache-Control is max-age=N, public, no-transform, must-revalidate" \
  grep -Eqi '^Cache-Control: max-age=[0-9]+, public, no-transform, must-revalidate' "$T_DIR/post.h"
check "Last-Modified, Expires and ETag are sent" \
  sh -c "grep -qi '^Last-Modified: ' '$T_DIR/post.h' && grep -qi '^Expires: ' '$T_DIR/post.h' && grep -qi '^ETag: \"' '$T_DIR/post.h'"
check "Expires is the response's nextUpdate" python3 - "$T_DIR/post.h" "$T_DIR/post.der" <<'PY'
import email.utils, re, subprocess, sys, datetime
hdr = open(sys.argv[1]).read()
exp = email.utils.parsedate_to_datetime(re.search(r'(?im)^Expires: (.*)\r?$', hdr).group(1).strip())
text = subprocess.run(["openssl", "ocsp", "-respin", sys.argv[2], "-resp_text", "-noverify"],
                      capture_output=True, text=True).stdout
nu = re.search(r'Next Update: (.*)', text).group(1).strip()
nu = datetime.datetime.strptime(nu, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)
sys.exit(0 if exp == nu else f"{exp} != {nu}")
PY
check "max-age runs until nextUpdate (4h validity: more than 3h)" \
  sh -c "grep -Eio 'max-age=[0-9]+' '$T_DIR/post.h' | cut -d= -f2 | awk '{exit !(\$1 > 10800 && \$1 <= 14400)}'"
curl -s -o "$T_DIR/post2.der" -H 'Content-Type: application/ocsp-request' --data-binary @"$T_DIR/req.der" "$HTTP_URL/ocsp"
check "a second request without a nonce gets the same pre-signed response" cmp "$T_DIR/post.der" "$T_DIR/post2.der"

echo "# GET /ocsp/{base64}"
b64=$(base64 -w0 "$T_DIR/req.der")
enc=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$b64")
curl -s -D "$T_DIR/get.h" -o "$T_DIR/get.der" "$HTTP_URL/ocsp/$b64"
check "GET with standard base64 answers good" \
  sh -c "openssl ocsp -respin '$T_DIR/get.der' -issuer '$P/intermediate.crt' -cert '$T_DIR/web.crt' -CAfile '$P/root.crt' -no_nonce 2>&1 | grep -q 'web.crt: good'"
check "GET carries the caching headers too" grep -Eqi '^Cache-Control: max-age=[0-9]+, public' "$T_DIR/get.h"
curl -s -o "$T_DIR/get2.der" "$HTTP_URL/ocsp/$enc"
check "GET with URL-encoded base64 ($enc) gives the same response" cmp "$T_DIR/get.der" "$T_DIR/get2.der"
# A request whose base64 holds '/' and '+': find a nonce that makes one.
for i in $(seq 1 60); do
  openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/web.crt" -reqout "$T_DIR/slash.der" >/dev/null 2>&1
  sb64=$(base64 -w0 "$T_DIR/slash.der")
  case $sb64 in */*) break ;; esac
done
curl -s -o "$T_DIR/slash.resp" "$HTTP_URL/ocsp/$sb64"
check "a base64 request holding '/' (unescaped, in the path: $sb64) is answered good, its nonce echoed" \
  nonce_good "$T_DIR/slash.der" "$T_DIR/slash.resp"

echo "# revoked, at once"
st=$(as admin POST /v1/revoke "$(revoke_body "$WEB" keyCompromise)")
expect_eq "web is revoked (200)" "$st" 200
out=$(ocsp web -no_nonce)
expect_eq "right after the 200, without a nonce (the cached good is gone): revoked" \
  "$(echo "$out" | sed -n "s|^$T_DIR/web.crt: ||p")" revoked
check "... with the reason keyCompromise" sh -c "echo '$out' | grep -q 'Reason: keyCompromise'"
expect_eq "with a nonce: revoked" "$(ocsp_status web | head -1)" revoked
curl -s -o "$T_DIR/get3.der" "$HTTP_URL/ocsp/$b64"
check "GET: revoked" sh -c "openssl ocsp -respin '$T_DIR/get3.der' -issuer '$P/intermediate.crt' -cert '$T_DIR/web.crt' -CAfile '$P/root.crt' -no_nonce 2>&1 | grep -q 'web.crt: revoked'"
expect_eq "db is still good" "$(ocsp_status db -no_nonce)" good

echo "# nonces"
openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/db.crt" -reqout "$T_DIR/n1.der" >/dev/null 2>&1
curl -s -D "$T_DIR/n1.h" -o "$T_DIR/n1.resp" -H 'Content-Type: application/ocsp-request' --data-binary @"$T_DIR/n1.der" "$HTTP_URL/ocsp"
check "a request with a nonce gets it back (openssl checks it)" nonce_good "$T_DIR/n1.der" "$T_DIR/n1.resp"
openssl ocsp -issuer "$P/intermediate.crt" -cert "$T_DIR/db.crt" -reqout "$T_DIR/n2.der" >/dev/null 2>&1
curl -s -o "$T_DIR/n2.resp" -H 'Content-Type: application/ocsp-request' --data-binary @"$T_DIR/n2.der" "$HTTP_URL/ocsp"
check "another nonce gets its own freshly signed response" \
  sh -c "! cmp -s '$T_DIR/n1.resp' '$T_DIR/n2.resp'"
check "... echoing the second nonce" nonce_good "$T_DIR/n2.der" "$T_DIR/n2.resp"
check "the first response does not match the second request's nonce" \
  sh -c "openssl ocsp -reqin '$T_DIR/n2.der' -respin '$T_DIR/n1.resp' -CAfile '$P/root.crt' -verify_other '$P/intermediate.crt' 2>&1 | grep -qi 'nonce verify error'"
check "a response to a nonce is not for caches (no-store, no ETag)" \
  sh -c "grep -qi '^Cache-Control: no-store' '$T_DIR/n1.h' && ! grep -qi '^ETag' '$T_DIR/n1.h'"

echo "# unknown and unauthorized"
make_csr ghost
hand_sign ghost 20200101000000Z 20990101000000Z spiffe://example.org/ns/default/sa/ghost
expect_eq "a certificate of ours never recorded: unknown" "$(ocsp_status ghost -no_nonce)" unknown
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/other.key" \
  -subj /CN=other -days 1 -out "$T_DIR/other.crt" 2>/dev/null
out=$(openssl ocsp -issuer "$T_DIR/other.crt" -cert "$T_DIR/other.crt" -url "$HTTP_URL/ocsp" -no_nonce 2>&1)
check "a CertID of another issuer: unauthorized" sh -c "echo '$out' | grep -q 'unauthorized (6)'"

echo "# malformed requests"
post_ocsp() { # DATA-FILE [CONTENT-TYPE]: prints the status; body in $T_DIR/m.der
  curl -s -o "$T_DIR/m.der" -w '%{http_code}' -H "Content-Type: ${2:-application/ocsp-request}" \
    --data-binary @"$1" "$HTTP_URL/ocsp"
}
is_malformed() { [ "$(od -An -tx1 "$T_DIR/m.der" | tr -d ' \n')" = 30030a0101 ]; }
printf 'garbage, not DER' >"$T_DIR/garbage"
expect_eq "garbage: HTTP 200" "$(post_ocsp "$T_DIR/garbage")" 200
check "... with the OCSP malformedRequest response" is_malformed
head -c 40 "$T_DIR/req.der" >"$T_DIR/trunc.der"
expect_eq "a truncated DER request: HTTP 200" "$(post_ocsp "$T_DIR/trunc.der")" 200
check "... malformedRequest" is_malformed
cat "$T_DIR/req.der" "$T_DIR/req.der" >"$T_DIR/twice.der"
expect_eq "a request with trailing bytes: HTTP 200" "$(post_ocsp "$T_DIR/twice.der")" 200
check "... malformedRequest" is_malformed
: >"$T_DIR/empty"
expect_eq "an empty body: HTTP 200" "$(post_ocsp "$T_DIR/empty")" 200
check "... malformedRequest" is_malformed
expect_eq "a wrong Content-Type is 415" "$(post_ocsp "$T_DIR/req.der" application/json)" 415
head -c 5000 /dev/zero >"$T_DIR/big"
expect_eq "a body over 4096 bytes is 413" "$(post_ocsp "$T_DIR/big")" 413
head -c 70000 /dev/zero >"$T_DIR/huge"
expect_eq "a body over 64 KiB is 413" "$(post_ocsp "$T_DIR/huge")" 413
st=$(curl -s -o "$T_DIR/m.der" -w '%{http_code}' "$HTTP_URL/ocsp/not*base64")
expect_eq "GET with bad base64: HTTP 200" "$st" 200
check "... malformedRequest" is_malformed
st=$(curl -s -o "$T_DIR/m.der" -w '%{http_code}' "$HTTP_URL/ocsp/$(base64 -w0 "$T_DIR/trunc.der")")
expect_eq "GET with the base64 of a truncated request: HTTP 200" "$st" 200
check "... malformedRequest" is_malformed
st=$(curl -s -o "$T_DIR/m.der" -w '%{http_code}' "$HTTP_URL/ocsp/$(head -c 9000 /dev/zero | tr '\0' A)")
expect_eq "GET with 9000 base64 characters: HTTP 200" "$st" 200
check "... malformedRequest" is_malformed
check "the server is healthy after all that" curl -fs "$HTTP_URL/healthz"
expect_eq "and still answers: db good" "$(ocsp_status db -no_nonce)" good
check "OCSP is served on HTTPS too" sh -c "curl -s --cacert '$P/root.crt' -o '$T_DIR/s.der' -H 'Content-Type: application/ocsp-request' --data-binary @'$T_DIR/req.der' '$HTTPS_URL/ocsp' && openssl ocsp -respin '$T_DIR/s.der' -issuer '$P/intermediate.crt' -cert '$T_DIR/web.crt' -CAfile '$P/root.crt' -no_nonce 2>&1 | grep -q 'web.crt: revoked'"
stop_server TERM
expect_eq "the server stops cleanly" "$SRV_RC" 0
finish
