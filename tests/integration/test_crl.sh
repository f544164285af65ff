#!/usr/bin/env bash
# test_crl.sh: CRL publishing against a real server: GET /crl (DER) and
# /crl.pem verified with `openssl crl`, the revoked serial listed with its
# reason after POST /v1/revoke, the CRL number increasing (also across a
# restart: it is the signing time in milliseconds), `openssl verify -crl_check`
# refusing the revoked leaf and passing another, a burst of concurrent
# revocations all listed, caching headers, GET /root.crl (404 until
# configured, then the file's CRL, re-read when it changes, also through a
# symlink as in Kubernetes volumes), GET /v1/crls.pem holding both CRLs, as
# nginx's ssl_crl wants, and /readyz 503 while the root's CRL revokes our
# intermediate.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }
P=$T_DIR/pki
cat "$P/intermediate.crt" "$P/root.crt" >"$T_DIR/cas.pem"

check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID (web) is issued" issue web spiffe://example.org/ns/default/sa/web
check "a workload SVID (db) is issued" issue db spiffe://example.org/ns/default/sa/db
WEB=$(serial_of web)
WEB_UPPER=$(echo "$WEB" | tr a-f A-F)

# lists SERIAL: the CRL at /crl lists SERIAL (openssl prints upper-case hex, padded).
lists() {
  curl -s "$HTTP_URL/crl" | openssl crl -inform DER -noout -text | tr -d ' ' |
    grep -Eq "^SerialNumber:0*$(echo "$1" | tr a-f A-F)\$"
}

echo "# the first CRL"
curl -s -D "$T_DIR/crl.h" -o "$T_DIR/crl1.der" "$HTTP_URL/crl"
check "GET /crl is application/pkix-crl" grep -qi '^Content-Type: application/pkix-crl' "$T_DIR/crl.h"
check "openssl crl verifies it against the intermediate and root" \
  sh -c "openssl crl -inform DER -in '$T_DIR/crl1.der' -CAfile '$T_DIR/cas.pem' -noout 2>&1 | grep -q 'verify OK'"
check "it is a v2 CRL with a CRL number, the intermediate's AKID and no entry" \
  sh -c "t=\$(openssl crl -inform DER -in '$T_DIR/crl1.der' -noout -text); echo \"\$t\" | grep -q 'Version 2' &&
         echo \"\$t\" | grep -q 'CRL Number' && echo \"\$t\" | grep -q 'Authority Key Identifier' &&
         echo \"\$t\" | grep -q 'No Revoked Certificates'"
check "thisUpdate is backdated 60 s, nextUpdate is not: 24h (crl.validity) + 60 s apart" \
  python3 - "$T_DIR/crl1.der" <<'PY'
import subprocess, sys, datetime
out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", sys.argv[1], "-noout",
                      "-lastupdate", "-nextupdate"], capture_output=True, text=True).stdout
d = dict(l.split("=", 1) for l in out.strip().splitlines())
f = lambda s: datetime.datetime.strptime(s.strip(), "%b %d %H:%M:%S %Y %Z")
sys.exit(0 if (f(d["nextUpdate"]) - f(d["lastUpdate"])).total_seconds() == 86400 + 60 else out)
PY
check "Last-Modified, Expires, ETag and Cache-Control: public, max-age are sent" \
  sh -c "grep -qi '^Last-Modified: ' '$T_DIR/crl.h' && grep -qi '^Expires: ' '$T_DIR/crl.h' &&
         grep -qi '^ETag: \"' '$T_DIR/crl.h' && grep -Eqi '^Cache-Control: public, max-age=[0-9]+' '$T_DIR/crl.h'"
check "max-age is at most crl.refresh (1h)" \
  sh -c "grep -Eio 'max-age=[0-9]+' '$T_DIR/crl.h' | cut -d= -f2 | awk '{exit !(\$1 <= 3600)}'"
curl -s -D "$T_DIR/pem.h" -o "$T_DIR/crl1.pem" "$HTTP_URL/crl.pem"
check "GET /crl.pem is the same CRL in PEM" \
  sh -c "openssl crl -in '$T_DIR/crl1.pem' -outform DER | cmp - '$T_DIR/crl1.der'"
n1=$(crl_number "$HTTP_URL/crl")
check "openssl verify -crl_check passes web with it" \
  openssl verify -crl_check -CRLfile "$T_DIR/crl1.pem" -CAfile "$T_DIR/cas.pem" "$T_DIR/web.crt"
check "the CRL is served on HTTPS too" \
  sh -c "curl -fs --cacert '$P/root.crt' '$HTTPS_URL/crl' | openssl crl -inform DER -noout"

echo "# after a revocation"
st=$(as admin POST /v1/revoke "$(revoke_body "$WEB" keyCompromise)")
expect_eq "web is revoked (200)" "$st" 200
check "the CRL lists web's serial soon (the contract says within 1 s)" wait_for 5 lists "$WEB"
curl -s -o "$T_DIR/crl2.der" "$HTTP_URL/crl"
openssl crl -inform DER -in "$T_DIR/crl2.der" -out "$T_DIR/crl2.pem"
n2=$(crl_number "$HTTP_URL/crl")
check "the CRL number increased ($n1 -> $n2)" test "$n2" -gt "$n1"
check "the entry has the reason keyCompromise and a revocation date" \
  sh -c "openssl crl -in '$T_DIR/crl2.pem' -noout -text | grep -A4 '$WEB_UPPER' | grep -q 'Key Compromise' &&
         openssl crl -in '$T_DIR/crl2.pem' -noout -text | grep -A1 '$WEB_UPPER' | grep -q 'Revocation Date'"
check "the new CRL verifies" \
  sh -c "openssl crl -in '$T_DIR/crl2.pem' -CAfile '$T_DIR/cas.pem' -noout 2>&1 | grep -q 'verify OK'"
check "openssl verify -crl_check refuses web: certificate revoked" \
  sh -c "! openssl verify -crl_check -CRLfile '$T_DIR/crl2.pem' -CAfile '$T_DIR/cas.pem' '$T_DIR/web.crt' >'$T_DIR/v' 2>&1 &&
         grep -q 'certificate revoked' '$T_DIR/v'"
check "openssl verify -crl_check still passes db" \
  openssl verify -crl_check -CRLfile "$T_DIR/crl2.pem" -CAfile "$T_DIR/cas.pem" "$T_DIR/db.crt"
# OpenSSL allows no skew on thisUpdate: a relying party whose clock is 30 s
# behind must not find the CRL just signed "not yet valid".
check "... also for a relying party whose clock is 30 s behind (the new CRL is backdated)" \
  openssl verify -crl_check -attime $(($(date +%s) - 30)) -CRLfile "$T_DIR/crl2.pem" \
  -CAfile "$T_DIR/cas.pem" "$T_DIR/db.crt"
st=$(as admin POST /v1/revoke "$(revoke_body "$(serial_of db)")")
check "a revocation without a reason (db) is listed without a reason code" \
  sh -c "wait_for() { for i in \$(seq 50); do \"\$@\" && return 0; sleep 0.1; done; return 1; };
         has() { curl -s '$HTTP_URL/crl' | openssl crl -inform DER -noout -text | grep -A3 '$(serial_of db | tr a-f A-F)' >'$T_DIR/e'; grep -q 'Revocation Date' '$T_DIR/e'; };
         wait_for has && ! grep -q 'Reason' '$T_DIR/e'"

echo "# a burst of revocations"
for i in $(seq 1 12); do issue "burst$i" "spiffe://example.org/ns/burst/sa/w$i" || break; done
for i in $(seq 1 12); do serial_of "burst$i"; done |
  xargs -P 12 -I{} curl -s -o /dev/null --cacert "$P/root.crt" --cert "$T_DIR/admin.crt" \
    --key "$T_DIR/admin.key" -H 'Content-Type: application/json' \
    --data-binary '{"serial":"{}","reason":"superseded"}' "$HTTPS_URL/v1/revoke"
check "after 12 concurrent revocations the CRL lists the last of them" wait_for 5 lists "$(serial_of burst12)"
check "... and the first" lists "$(serial_of burst1)"
# CRL numbers are signing times in milliseconds, so they do not count CRLs
# here: test_api_crl.c checks the coalescing.

echo "# the CRL number survives a restart"
# number_is_signing_ms N FROM TO: N is a time in milliseconds in [FROM, TO].
number_is_signing_ms() {
  echo "CRL number $1, milliseconds $2 .. $3"
  [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
before=$(crl_number "$HTTP_URL/crl")
stop_server TERM
t0=$(date +%s%3N)
start_server || t_fail "the server restarts"
t1=$(date +%s%3N)
after=$(crl_number "$HTTP_URL/crl")
check "the first CRL after the restart has a larger number ($before -> $after)" test "$after" -gt "$before"
check "... which is its signing time in milliseconds" number_is_signing_ms "$after" "$t0" "$t1"
check "... and still lists web" lists "$WEB"

echo "# the root's CRL"
st=$(curl -s -o "$T_DIR/out" -w '%{http_code}' "$HTTP_URL/root.crl")
refused "GET /root.crl without pki.root_crl is 404" 404 not_found "$st"
check "/metrics has no root CRL line without pki.root_crl" \
  sh -c "! curl -s '$HTTP_URL/metrics' | grep -q 'crl=\"root\"'"
curl -s -o "$T_DIR/only.pem" "$HTTP_URL/v1/crls.pem"
check "GET /v1/crls.pem then holds just our CRL" \
  sh -c "test \$(grep -c 'BEGIN X509 CRL' '$T_DIR/only.pem') = 1"
check "signet root crl makes the root's CRL" "$SIGNET_BIN" root crl --dir "$P" --out "$P/root.crl" \
  --passphrase-file "$P/root.pass"
stop_server TERM
python3 - "$T_DIR/signet.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["pki"]["root_crl"] = "pki/root.crl"
json.dump(c, open(sys.argv[1], "w"))
PY
start_server || t_fail "the server restarts with pki.root_crl"
curl -s -D "$T_DIR/root.h" -o "$T_DIR/root.der" "$HTTP_URL/root.crl"
check "GET /root.crl serves the file's CRL as DER" \
  sh -c "openssl crl -in '$P/root.crl' -outform DER | cmp - '$T_DIR/root.der'"
check "... as application/pkix-crl" grep -qi '^Content-Type: application/pkix-crl' "$T_DIR/root.h"
curl -s -o "$T_DIR/all.pem" "$HTTP_URL/v1/crls.pem"
check "GET /v1/crls.pem holds two CRLs" sh -c "test \$(grep -c 'BEGIN X509 CRL' '$T_DIR/all.pem') = 2"
# metric_matches_crl LABEL DER-FILE: signet_crl_next_update_seconds{crl=LABEL}
# is within 5 s of nextUpdate - now as `openssl crl` reads it from the file.
metric_matches_crl() {
  local m next now
  m=$(curl -s "$HTTP_URL/metrics" | sed -n "s/^signet_crl_next_update_seconds{crl=\"$1\"} //p")
  next=$(date -d "$(openssl crl -inform DER -in "$2" -noout -nextupdate | cut -d= -f2)" +%s)
  now=$(date +%s)
  echo "metric $m, openssl $((next - now))"
  [ -n "$m" ] && [ $((next - now - m)) -le 5 ] && [ $((m - next + now)) -le 5 ]
}
curl -s -o "$T_DIR/crl.der" "$HTTP_URL/crl"
check "/metrics gives the time to the intermediate CRL's nextUpdate (as openssl crl reads it)" \
  metric_matches_crl intermediate "$T_DIR/crl.der"
check "... and to the root CRL's" metric_matches_crl root "$T_DIR/root.der"
# split_crls FILE PREFIX: PREFIX0.pem, PREFIX1.pem, ... one CRL each.
split_crls() {
  python3 - "$1" "$2" <<'PY'
import re, sys
pems = re.findall(r"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----\n", open(sys.argv[1]).read(), re.S)
for i, p in enumerate(pems):
    open(f"{sys.argv[2]}{i}.pem", "w").write(p)
PY
}
split_crls "$T_DIR/all.pem" "$T_DIR/all"
check "the first is the intermediate's and verifies" \
  sh -c "openssl crl -in '$T_DIR/all0.pem' -CAfile '$T_DIR/cas.pem' -noout -issuer 2>&1 | grep -q 'intermediate' &&
         openssl crl -in '$T_DIR/all0.pem' -CAfile '$T_DIR/cas.pem' -noout 2>&1 | grep -q 'verify OK'"
check "the second is the root's and verifies" \
  sh -c "openssl crl -in '$T_DIR/all1.pem' -CAfile '$P/root.crt' -noout 2>&1 | grep -q 'verify OK' &&
         openssl crl -in '$T_DIR/all1.pem' -outform DER | cmp - '$T_DIR/root.der'"
check "openssl verify -crl_check_all with crls.pem refuses db (revoked)" \
  sh -c "! openssl verify -crl_check_all -CRLfile '$T_DIR/all.pem' -CAfile '$T_DIR/cas.pem' '$T_DIR/db.crt' >/dev/null 2>&1"
check "another leaf passes openssl verify -crl_check_all with crls.pem (both CRLs needed)" \
  sh -c "openssl verify -crl_check_all -CRLfile '$T_DIR/all.pem' -CAfile '$T_DIR/cas.pem' '$T_DIR/admin.crt' &&
         ! openssl verify -crl_check_all -CRLfile '$T_DIR/all0.pem' -CAfile '$T_DIR/cas.pem' '$T_DIR/admin.crt' >/dev/null 2>&1"
# Revoking the intermediate in a new root CRL: the server re-reads the file.
iserial=$(openssl x509 -in "$P/intermediate.crt" -noout -serial | cut -d= -f2)
check "signet root crl revokes the intermediate into a new file" "$SIGNET_BIN" root crl --dir "$P" \
  --out "$P/root2.crl" --revoke "$iserial:cACompromise" --passphrase-file "$P/root.pass"
mv "$P/root2.crl" "$P/root.crl"
root_lists_inter() {
  curl -s "$HTTP_URL/root.crl" | openssl crl -inform DER -noout -text | grep -q "$iserial"
}
check "GET /root.crl serves the new file within a few seconds" wait_for 10 root_lists_inter
# revoked_not_ready: /readyz is 503 because the root's CRL revokes our intermediate.
revoked_not_ready() {
  local st
  st=$(curl -s -o "$T_DIR/ready.out" -w '%{http_code}' "$HTTP_URL/readyz")
  echo "$st $(cat "$T_DIR/ready.out")"
  [ "$st" = 503 ] && grep -q 'the intermediate is revoked by pki.root_crl' "$T_DIR/ready.out"
}
check "/readyz answers 503: the intermediate is revoked by pki.root_crl" revoked_not_ready
last_output
check "... and the server logged it as an error" \
  grep -q '"level":"error","msg":"the intermediate is revoked by pki.root_crl' "$T_DIR/server.log"
curl -s -o "$T_DIR/all2.pem" "$HTTP_URL/v1/crls.pem"
split_crls "$T_DIR/all2.pem" "$T_DIR/new"
check "GET /v1/crls.pem carries it too" \
  sh -c "openssl crl -in '$T_DIR/new1.pem' -noout -text | grep -q '$iserial'"
check "... and openssl verify -crl_check_all with it refuses the intermediate's leaves" \
  sh -c "! openssl verify -crl_check_all -CRLfile '$T_DIR/all2.pem' -CAfile '$T_DIR/cas.pem' '$T_DIR/admin.crt' >'$T_DIR/v' 2>&1 &&
         grep -q 'certificate revoked' '$T_DIR/v'"
printf 'not a CRL\n' >"$P/bad.crl"
mv "$P/bad.crl" "$P/root.crl"
sleep 3
check "a broken root CRL file is not served: the last good one stays" root_lists_inter
check "... so /readyz still answers 503" revoked_not_ready
check "the server is healthy (/healthz)" curl -fs "$HTTP_URL/healthz"
stop_server TERM
expect_eq "the server stops cleanly" "$SRV_RC" 0

echo "# a symlinked root CRL, as Kubernetes ConfigMap and Secret volumes present files"
# K/root.crl -> ..data/root.crl, K/..data -> ..<timestamp>; the kubelet
# updates the volume by pointing ..data at a new directory (a rename).
K=$P/kube
mkdir -p "$K"
# kube_publish GEN: a new root CRL in K/GEN, then ..data swapped to it.
kube_publish() {
  mkdir "$K/$1" &&
    "$SIGNET_BIN" root crl --dir "$P" --out "$K/$1/root.crl" --passphrase-file "$P/root.pass" \
      >/dev/null &&
    ln -s "$1" "$K/..data_tmp" && mv -T "$K/..data_tmp" "$K/..data"
}
check "a root CRL is published in a Kubernetes-style volume" kube_publish ..2026_11_27_10_00_00.1
ln -s ..data/root.crl "$K/root.crl"
log_k=$(wc -l <"$T_DIR/server.log")
python3 - "$T_DIR/signet.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["pki"]["root_crl"] = "pki/kube/root.crl"
json.dump(c, open(sys.argv[1], "w"))
PY
check "the server starts with pki.root_crl a symlink (and, its intermediate no longer revoked, is ready)" \
  start_server
# served_is FILE: GET /root.crl serves the CRL in FILE.
served_is() {
  curl -s "$HTTP_URL/root.crl" | cmp - <(openssl crl -in "$1" -outform DER)
}
check "... and serves the CRL it points to" served_is "$K/..2026_11_27_10_00_00.1/root.crl"
check "a newer root CRL is published by swapping ..data" kube_publish ..2026_11_28_10_00_00.2
check "... and served within a few seconds" wait_for 10 served_is "$K/..2026_11_28_10_00_00.2/root.crl"
check "... and its load logged, with no failure to reload" \
  sh -c "tail -n +$((log_k + 1)) '$T_DIR/server.log' >'$T_DIR/k.log' &&
         [ \$(grep -c 'pki.root_crl loaded' '$T_DIR/k.log') -eq 2 ] &&
         ! grep -q 'not reloaded' '$T_DIR/k.log'"
stop_server TERM
expect_eq "the server stops cleanly" "$SRV_RC" 0
finish
