#!/usr/bin/env bash
# test_auth.sh: every refusal of POST /v1/sign and POST /v1/renew, with its
# status and error code: bad tokens (alg none, HS256, wrong iss/aud, expired,
# not yet valid, unknown kid, bad signature, replayed jti also after a
# restart), forbidden SANs, bad media type, method, route and size, and
# client certificates that are missing, foreign, expired or not ours.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server
make_csr w
body w.csr >w.json
S=$HTTPS_URL/v1/sign
R=$HTTPS_URL/v1/renew

# ---- Tokens ----
expect_refusal "no token" 401 unauthenticated "$(post "$S" "" w.json o)" o
expect_refusal "a Basic credential" 401 unauthenticated \
  "$(post "$S" "" w.json o -H 'Authorization: Basic dXNlcjpwYXNz')" o
expect_refusal "alg none" 401 unauthenticated "$(post "$S" "$(k8s_token none ec1)" w.json o)" o
expect_refusal "HS256 keyed with the public key" 401 unauthenticated \
  "$(post "$S" "$(k8s_token HS256 rsa1)" w.json o)" o
expect_refusal "RS256 header on the EC key's kid" 401 unauthenticated \
  "$(post "$S" "$(k8s_token RS256 ec1)" w.json o)" o
expect_refusal "wrong issuer" 401 unauthenticated \
  "$(post "$S" "$(k8s_token ES256 ec1 default web '{"iss": "https://evil.example"}')" w.json o)" o
expect_refusal "wrong audience" 401 unauthenticated \
  "$(post "$S" "$(k8s_token ES256 ec1 default web '{"aud": ["vault"]}')" w.json o)" o
expect_refusal "expired token" 401 unauthenticated \
  "$(post "$S" "$(k8s_token ES256 ec1 default web '{"exp": "now-300", "iat": "now-900", "nbf": "now-900"}')" w.json o)" o
expect_refusal "token not yet valid" 401 unauthenticated \
  "$(post "$S" "$(k8s_token ES256 ec1 default web '{"nbf": "now+600", "exp": "now+1200"}')" w.json o)" o
expect_refusal "token without exp" 401 unauthenticated \
  "$(post "$S" "$(k8s_token ES256 ec1 default web '{"exp": null}')" w.json o)" o
expect_refusal "unknown kid" 401 unauthenticated "$(post "$S" "$(k8s_token ES256 nosuchkid)" w.json o)" o
tok=$(k8s_token ES256 ec1)
bad=${tok%.*}.$(printf '%s' "${tok##*.}" | tr 'A-Za-z' 'B-ZAb-za')
expect_refusal "bad signature" 401 unauthenticated "$(post "$S" "$bad" w.json o)" o
check "the token never appears in the answer" sh -c "! grep -q '${tok%%.*}' o"

ptok=$(prov_token spiffe://example.org/batch/job)
expect_eq "a provisioner token is accepted once" "$(post "$S" "$ptok" w.json o)" 201
expect_refusal "the same provisioner token again (jti replay)" 401 unauthenticated \
  "$(post "$S" "$ptok" w.json o)" o
expect_refusal "a provisioner token for another trust domain" 401 unauthenticated \
  "$(post "$S" "$(prov_token spiffe://evil.org/x)" w.json o)" o

# ---- Forbidden SANs ----
make_csr evil -addext "subjectAltName=DNS:evil.example"
body evil.csr >evil.json
expect_refusal "a CSR asking for an unauthorised DNS name" 403 forbidden \
  "$(post "$S" "$(k8s_token ES256 ec1)" evil.json o)" o
check "the 403 names the SAN" grep -q 'evil.example' o
make_csr other -addext "subjectAltName=URI:spiffe://example.org/ns/kube-system/sa/admin"
body other.csr >other.json
expect_refusal "a CSR asking for another SPIFFE ID" 403 forbidden \
  "$(post "$S" "$(k8s_token ES256 ec1)" other.json o)" o
make_csr ip -addext "subjectAltName=IP:10.0.0.1"
body ip.csr >ip.json
expect_refusal "a CSR asking for an IP address" 403 forbidden \
  "$(post "$S" "$(k8s_token ES256 ec1)" ip.json o)" o
openssl req -new -newkey rsa:1024 -nodes -keyout rsa1024.key -subj / -out rsa1024.csr 2>/dev/null
body rsa1024.csr >rsa1024.json
expect_refusal "an RSA-1024 CSR" 400 invalid_csr "$(post "$S" "$(k8s_token ES256 ec1)" rsa1024.json o)" o

# A token pays for a certificate only when one is issued: refused CSRs leave
# it unspent, and the next good CSR with it gets the SVID.
ptok2=$(prov_token spiffe://example.org/batch/retry)
expect_refusal "a provisioner token with an RSA-1024 CSR" 400 invalid_csr \
  "$(post "$S" "$ptok2" rsa1024.json o)" o
expect_refusal "the same token with a CSR asking for an IP address" 403 forbidden \
  "$(post "$S" "$ptok2" ip.json o)" o
expect_eq "the same token with a good CSR then issues" "$(post "$S" "$ptok2" w.json o)" 201
expect_eq "... the SVID of the token's subject" "$(json_get o spiffe_id)" spiffe://example.org/batch/retry
expect_refusal "... and is spent by that issuance" 401 unauthenticated "$(post "$S" "$ptok2" w.json o)" o

# ---- HTTP-level refusals ----
st=$(curl -s --cacert pki/root.crt -H "Authorization: Bearer $tok" -H 'Content-Type: text/plain' \
  --data-binary @w.json -o o -w '%{http_code}' "$S")
expect_refusal "Content-Type text/plain" 415 unsupported_media_type "$st" o
st=$(curl -s --cacert pki/root.crt -D o.h -o o -w '%{http_code}' "$S")
expect_refusal "GET on /v1/sign" 405 method_not_allowed "$st" o
check "the 405 says Allow: POST" grep -qi '^allow: POST' o.h
st=$(curl -s --cacert pki/root.crt -o o -w '%{http_code}' "$HTTPS_URL/v1/nothing")
expect_refusal "an unknown route" 404 not_found "$st" o
head -c 70000 /dev/zero | tr '\0' 'a' >big.json
expect_refusal "a body over 64 KiB (Content-Length)" 413 payload_too_large \
  "$(post "$S" "$tok" big.json o)" o
expect_refusal "a chunked body over 64 KiB" 413 payload_too_large \
  "$(post "$S" "$tok" big.json o -H 'Transfer-Encoding: chunked')" o
expect_refusal "a ttl that is not a duration" 400 bad_request \
  "$(post "$S" "$tok" <(body w.csr forever) o)" o

# ---- Renewal ----
expect_refusal "renewal without a client certificate" 401 unauthenticated "$(post "$R" "" w.json o)" o
check "it says a client certificate is required" grep -q 'client certificate required' o
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout f.key -subj /CN=f \
  -addext "subjectAltName=URI:spiffe://example.org/ns/default/sa/web" -out f.crt 2>/dev/null
expect_refusal "renewal with a foreign-CA certificate (handshake still completes)" 401 unauthenticated \
  "$(post "$R" "" w.json o --cert f.crt --key f.key)" o
make_csr old -subj /CN=old
check "a certificate that expired in 2020 is signed by hand" \
  hand_sign old 20200101000000Z 20200102000000Z spiffe://example.org/ns/default/sa/old
expect_refusal "renewal with an expired certificate" 401 unauthenticated \
  "$(post "$R" "" w.json o --cert old.crt --key old.key)" o
check "it says the certificate expired" grep -qi 'expired' o
make_csr stray -subj /CN=stray
check "a valid certificate is signed by hand, outside the server" \
  hand_sign stray "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" "$(date -u -d '+1 hour' +%Y%m%d%H%M%SZ)" \
  spiffe://example.org/ns/default/sa/stray
expect_refusal "renewal with a certificate the store does not know" 401 unauthenticated \
  "$(post "$R" "" w.json o --cert stray.crt --key stray.key)" o
expect_eq "a good token still works after all that" "$(post "$S" "$tok" w.json o)" 201

# ---- Replay protection survives a restart ----
stop_server TERM
expect_eq "SIGTERM exits 0" "$SRV_RC" 0
check "server restarts" start_server
expect_refusal "the provisioner token replayed after a restart" 401 unauthenticated \
  "$(post "$S" "$ptok" w.json o)" o
stop_server TERM
finish
