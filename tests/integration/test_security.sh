#!/usr/bin/env bash
# test_security.sh: an attacker's view of who gets which certificate, against a
# real server: the plain HTTP listener never reaches an authenticated route
# (every route, every method, path tricks), path normalisation on HTTPS, the
# client certificate is the leaf alone (extra certificates in the chain, the
# intermediate itself), admin checks by exact SPIFFE ID, a revoked admin
# authorises nothing, one provisioner token used at once from many
# connections issues exactly one certificate, and the TTL caps (provisioner
# max_ttl, and a renewal never outliving the presented certificate's
# lifetime).
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"
cd "$T_DIR" || exit 1

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }

check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID (web) is issued" issue web spiffe://example.org/ns/default/sa/web
check "a workload SVID (db) is issued" issue db spiffe://example.org/ns/default/sa/db
WEB=$(serial_of web)
DB=$(serial_of db)

# count_records: how many records the store holds (as the admin sees them).
count_records() {
  as admin GET "/v1/certs?limit=1000" >/dev/null
  grep -o '"serial":"' "$T_DIR/out" | wc -l
}
BEFORE=$(count_records)

# plain METHOD PATH [curl args...]: the status of a plain HTTP request.
plain() {
  local m=$1 p=$2
  shift 2
  local head=()
  [ "$m" = HEAD ] && head=(-I)
  curl -s --path-as-is "${head[@]}" -X "$m" -o "$T_DIR/out" -w '%{http_code}' "$@" "$HTTP_URL$p"
}

# refused_file DESC STATUS CODE GOT FILE: refused, for an answer saved in FILE.
refused_file() {
  cp "$5" "$T_DIR/out"
  refused "$1" "$2" "$3" "$4"
}

echo "# the plain HTTP listener never reaches an authenticated route"
make_csr p1
body p1.csr >p1.json
TOK=$(prov_token spiffe://example.org/ns/default/sa/plain)
bad=""
for p in /v1/sign /v1/renew /v1/revoke /v1/certs /v1/certs/1 "/v1/certs/$WEB" /v1/sign/ //v1/sign \
  '/v1/%73ign' '/v1/sign%00' '/v1/sign?x=1' /v1/./sign /v1/certs/../sign /ocsp/../v1/sign \
  /crl/../v1/sign '/v1/certs/..%2Fsign'; do
  for m in GET HEAD POST PUT DELETE OPTIONS; do
    st=$(plain "$m" "$p" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
      --data-binary @p1.json --cert admin.crt --key admin.key)
    case $p:$st in
      /ocsp/*:200) ;; # the OCSP responder answers malformedRequest inside a 200
      *:2??) bad="$bad $m:$p=$st" ;;
    esac
    grep -q 'BEGIN CERTIFICATE' "$T_DIR/out" && bad="$bad $m:$p(certificate)"
  done
done
expect_eq "no method on any authenticated or tricky path answers 2xx on plain HTTP" "$bad" ""
for p in /v1/sign /v1/renew /v1/revoke /v1/certs "/v1/certs/$WEB"; do
  st=$(plain GET "$p")
  refused "GET $p on plain HTTP is 404" 404 not_found "$st"
done
st=$(plain POST /v1/sign -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
  --data-binary @p1.json)
refused "POST /v1/sign with a valid token on plain HTTP is 404" 404 not_found "$st"
expect_eq "... and that token was not spent: it still works over HTTPS" \
  "$(post "$HTTPS_URL/v1/sign" "$TOK" p1.json p1.resp)" 201
BEFORE=$((BEFORE + 1))

echo "# routing on HTTPS: exact paths only"
make_csr h1
body h1.csr >h1.json
h_post() { # PATH TOKEN: the status of POST PATH over HTTPS with h1.json
  curl -s --path-as-is --cacert pki/root.crt ${2:+-H "Authorization: Bearer $2"} \
    -H 'Content-Type: application/json' --data-binary @h1.json -o "$T_DIR/out" \
    -w '%{http_code}' "$HTTPS_URL$1"
}
for p in //v1/sign /v1/sign/ /V1/SIGN /v1/sign.json /v1/signx /v1/./sign /v1/certs/../sign; do
  st=$(h_post "$p" "$(prov_token spiffe://example.org/ns/default/sa/h1)")
  case $p in
    /v1/certs/*) refused "POST $p is the certs route: 405, never a signature" 405 \
      method_not_allowed "$st" ;;
    *) refused "POST $p is 404" 404 not_found "$st" ;;
  esac
done
st=$(h_post '/v1/sign?x=1' "")
refused "POST /v1/sign?x=1 is /v1/sign and still needs a token (401)" 401 unauthenticated "$st"
st=$(h_post '/v1/%73ign' "")
refused "POST /v1/%73ign (decoded to /v1/sign) still needs a token (401)" 401 unauthenticated \
  "$st"
st=$(curl -s -I --cacert pki/root.crt -o "$T_DIR/out" -w '%{http_code}' "$HTTPS_URL/v1/sign")
expect_eq "HEAD /v1/sign is 405" "$st" 405
st=$(curl -s -I --cacert pki/root.crt -o "$T_DIR/out" -w '%{http_code}' "$HTTPS_URL/v1/certs")
expect_eq "HEAD /v1/certs without a client certificate is 401" "$st" 401
st=$(curl -s -I --cacert pki/root.crt --cert web.crt --key web.key -o "$T_DIR/out" \
  -w '%{http_code}' "$HTTPS_URL/v1/certs")
expect_eq "HEAD /v1/certs with a workload certificate is 403" "$st" 403
expect_eq "none of that issued a certificate" "$(count_records)" "$BEFORE"

echo "# the client certificate is the leaf, and only the leaf"
cat web.crt admin.crt >web+admin.crt
cp web.key web+admin.key
st=$(as web+admin GET /v1/certs)
refused "web's leaf followed by the admin's certificate is web: listing is 403" 403 forbidden \
  "$st"
st=$(as web+admin POST /v1/revoke "$(revoke_body "$DB")")
refused "... and it cannot revoke db's certificate (403)" 403 forbidden "$st"
cat web.crt pki/intermediate.crt >web+inter.crt
cp web.key web+inter.key
make_csr r1
st=$(post "$HTTPS_URL/v1/renew" "" <(body r1.csr) r1.resp --cert web+inter.crt --key web.key)
expect_eq "web's leaf with the intermediate after it renews as web" \
  "$st $(json_get r1.resp spiffe_id)" "201 spiffe://example.org/ns/default/sa/web"
cp pki/intermediate.crt inter.crt
cp pki/intermediate.key inter.key
# GnuTLS drops the connection (the intermediate's keyUsage has no
# digitalSignature for CertificateVerify: curl says 000), or the route says 401.
st=$(as inter GET /v1/certs)
check "the intermediate itself as a client certificate cannot list records ($st)" \
  sh -c "[ '$st' = 000 ] || [ '$st' = 401 ]"
st=$(as inter POST /v1/revoke "$(revoke_body "$WEB")")
check "... nor revoke ($st)" sh -c "[ '$st' = 000 ] || [ '$st' = 401 ]"
st=$(post "$HTTPS_URL/v1/renew" "" <(body r1.csr) r1i.resp --cert inter.crt --key inter.key)
check "... nor renew ($st)" sh -c "[ '$st' = 000 ] || [ '$st' = 401 ]"
expect_eq "web's certificate is still valid" "$(as admin GET "/v1/certs/$WEB") $(jstr "$T_DIR/out" status)" "200 valid"

echo "# admins are known by their exact SPIFFE ID"
for id in spiffe://example.org/admin/ops2 spiffe://example.org/admin/ops/x \
  spiffe://example.org/admin/OPS spiffe://example.org/admin spiffe://example.org/admin/op; do
  n=near$(echo "$id" | md5sum | cut -c1-8)
  if ! issue "$n" "$id" 2>/dev/null; then
    t_fail "issue $id"
    continue
  fi
  st=$(as "$n" GET /v1/certs)
  refused "$id may not list records (403)" 403 forbidden "$st"
  st=$(as "$n" POST /v1/revoke "$(revoke_body "$DB")")
  refused "$id may not revoke db's certificate (403)" 403 forbidden "$st"
done

echo "# a revoked admin authorises nothing"
check "a second admin SVID is issued" issue admin2 spiffe://example.org/admin/ops
st=$(as admin2 GET /v1/certs)
expect_eq "the second admin lists records" "$st" 200
st=$(as admin2 POST /v1/revoke "$(revoke_body "$(serial_of admin2)" keyCompromise)")
expect_eq "the second admin revokes its own certificate" "$st" 200
st=$(as admin2 GET /v1/certs)
refused "the revoked admin cannot list records (401)" 401 unauthenticated "$st"
st=$(as admin2 GET "/v1/certs/$WEB")
refused "... nor show one (401)" 401 unauthenticated "$st"
st=$(as admin2 POST /v1/revoke "$(revoke_body "$DB")")
refused "... nor revoke another certificate (401)" 401 unauthenticated "$st"
make_csr r2
st=$(post "$HTTPS_URL/v1/renew" "" <(body r2.csr) r2.resp --cert admin2.crt --key admin2.key)
refused_file "... nor renew itself (401)" 401 unauthenticated "$st" r2.resp
st=$(as admin GET "/v1/certs/$DB")
expect_eq "db's certificate is still valid" "$st $(jstr "$T_DIR/out" status)" "200 valid"

echo "# one provisioner token used from 8 connections at once issues exactly one certificate"
RACE=$(prov_token spiffe://example.org/ns/default/sa/race)
make_csr race
body race.csr >race.json
racers=()
for i in 1 2 3 4 5 6 7 8; do
  post "$HTTPS_URL/v1/sign" "$RACE" race.json "race$i.resp" >"race$i.st" &
  racers+=($!)
done
for p in "${racers[@]}"; do wait "$p"; done
wins=$(for f in race?.st; do cat "$f"; echo; done | grep -c '^201$')
losses=$(for f in race?.st; do cat "$f"; echo; done | grep -c '^401$')
expect_eq "one 201 and seven 401" "$wins/$losses" "1/7"
check "the losers were told the token was already used" \
  sh -c "grep -l 'already used' race?.resp | wc -l | grep -qx 7"
st=$(as admin GET "/v1/certs?spiffe_id=spiffe://example.org/ns/default/sa/race")
expect_eq "the store holds exactly the one certificate the winner received" \
  "$st $(grep -o '"serial":"[0-9a-f]*"' "$T_DIR/out" | sort)" \
  "200 $(grep -ho '"serial":"[0-9a-f]*"' race?.resp | sort)"

echo "# TTL caps"
life() { # RESPONSE: not_after - not_before in seconds
  python3 -c 'import json,sys,datetime as d
r = json.load(open(sys.argv[1]))
t = lambda s: d.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
print(int(t(r["not_after"]) - t(r["not_before"])))' "$1"
}
make_csr t1
body t1.csr 24h >t1.json
st=$(post "$HTTPS_URL/v1/sign" "$(prov_token spiffe://example.org/ns/default/sa/ttl)" t1.json t1.resp)
expect_eq "a provisioner token asking for 24h is issued" "$st" 201
expect_eq "... for the provisioner's max_ttl of 2h (plus the 60 s backdating)" "$(life t1.resp)" 7260
split_response t1.resp t1
make_csr t2
body t2.csr 24h >t2.json
st=$(post "$HTTPS_URL/v1/renew" "" t2.json t2.resp --cert t1.crt --key t1.key)
expect_eq "renewing that 2h certificate asking for 24h is 201" "$st" 201
expect_eq "... and the renewal is capped at the presented certificate's 2h" "$(life t2.resp)" 7260
body t2.csr 10m >t2s.json
st=$(post "$HTTPS_URL/v1/renew" "" t2s.json t2s.resp --cert t1.crt --key t1.key)
expect_eq "a renewal may ask for less (10m)" "$st $(life t2s.resp)" "201 660"
make_csr t3
body t3.csr 24h >t3.json
st=$(post "$HTTPS_URL/v1/sign" "$(k8s_token ES256 ec1 default ttl)" t3.json t3.resp)
expect_eq "a Kubernetes token asking for 24h gets leaf.max_ttl (24h)" "$st $(life t3.resp)" \
  "201 86460"
body t3.csr 48h >t3b.json
st=$(post "$HTTPS_URL/v1/sign" "$(k8s_token ES256 ec1 default ttl)" t3b.json t3b.resp)
expect_eq "asking for 48h is clamped to leaf.max_ttl" "$st $(life t3b.resp)" "201 86460"

check "the server is healthy after all that" curl -fs "$HTTP_URL/healthz"
stop_server TERM
expect_eq "the server stops cleanly on SIGTERM" "$SRV_RC" 0
finish
