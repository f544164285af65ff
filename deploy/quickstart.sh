#!/usr/bin/env bash
# quickstart.sh: a local signet in one command. Installs the Debian packages,
# builds into build/, makes a dev PKI under ./var/pki when there is none
# (root with a dev passphrase in var/pki/root.pass, intermediate permitted to
# name localhost, provisioner "bootstrap"), writes var/signet.json, prints a
# copy-paste example, then runs `signet serve` in the foreground on
# https://127.0.0.1:8443 and http://127.0.0.1:8080. Running it again reuses
# the PKI and the store. For development only: the root key sits next to the
# server and its passphrase is in a file.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target signet_bin -j"$(nproc)" >/dev/null
signet=$top/build/signet
td=example.org
pki=var/pki

mkdir -p "$pki"
chmod 700 var "$pki"
if [ ! -f "$pki/root.crt" ]; then
  echo "quickstart: making a dev PKI in $pki (trust domain $td)"
  umask 077
  [ -f "$pki/root.pass" ] || openssl rand -hex 24 >"$pki/root.pass"
  umask 022
  "$signet" root init --dir "$pki" --trust-domain "$td" --passphrase-file "$pki/root.pass"
fi
if [ ! -f "$pki/intermediate.crt" ]; then
  [ -f "$pki/intermediate.key" ] || "$signet" intermediate init --dir "$pki" --trust-domain "$td"
  "$signet" root sign-intermediate --dir "$pki" --csr "$pki/intermediate.csr" \
    --out "$pki/intermediate.crt" --permit-dns localhost --passphrase-file "$pki/root.pass"
fi
if [ ! -f "$pki/bootstrap.key" ]; then
  "$signet" provisioner init --dir "$pki" --name bootstrap
fi
if [ ! -f var/signet.json ]; then
  cat >var/signet.json <<JSON
{
  "trust_domain": "$td",
  "listen": { "https": "127.0.0.1:8443", "http": "127.0.0.1:8080" },
  "public_url": "http://127.0.0.1:8080",
  "pki": { "roots": "pki/root.crt",
           "intermediate_cert": "pki/intermediate.crt",
           "intermediate_key": "pki/intermediate.key" },
  "tls": { "dns_names": ["localhost"], "ip_addresses": ["127.0.0.1"] },
  "store": { "path": "db", "map_size_mb": 1024 },
  "leaf": { "default_ttl": "1h", "max_ttl": "24h" },
  "auth": {
    "provisioners": [ { "name": "bootstrap", "public_key": "pki/bootstrap.pub",
                        "max_ttl": "24h" } ],
    "admins": ["spiffe://$td/admin/ops"]
  },
  "crl": { "validity": "24h", "refresh": "1h" },
  "ocsp": { "validity": "4h" }
}
JSON
fi

cat <<EXAMPLE

signet is starting on https://127.0.0.1:8443 (HTTPS API) and http://127.0.0.1:8080
(bundle, CA certificate, health, metrics). In another shell, from $top:

  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\
      -keyout web.key -subj / -out web.csr
  TOKEN=\$(./build/signet token --key $pki/bootstrap.key --provisioner bootstrap \\
      --spiffe-id spiffe://$td/web --dns web.localhost --ttl 5m)
  python3 -c 'import json; print(json.dumps({"csr": open("web.csr").read(), "ttl": "1h"}))' |
    curl -s --cacert $pki/root.crt -H "Authorization: Bearer \$TOKEN" \\
      -H 'Content-Type: application/json' --data-binary @- \\
      https://127.0.0.1:8443/v1/sign >web.json
  python3 -c 'import json; r = json.load(open("web.json")); print(r["serial"], r["spiffe_id"]);
open("web.crt", "w").write(r["certificate"]); open("chain.pem", "w").write(r["chain"])'
  openssl verify -CAfile $pki/root.crt -untrusted chain.pem web.crt

Renew over mTLS with the certificate you got:
  python3 -c 'import json; print(json.dumps({"csr": open("web.csr").read()}))' |
    curl -s --cacert $pki/root.crt --cert web.crt --key web.key \\
      -H 'Content-Type: application/json' --data-binary @- https://127.0.0.1:8443/v1/renew

Stop with Ctrl-C. Logs below are JSON lines, one per request.

EXAMPLE
exec "$signet" serve --config var/signet.json
