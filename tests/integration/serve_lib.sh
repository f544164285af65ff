# serve_lib.sh: helpers for the integration tests of `signet serve`, sourced by
# test_serve.sh, test_auth.sh, test_malformed.sh, test_flood.sh, test_crash.sh.
# Each test gets a temp dir with a dev PKI, Kubernetes signing keys and a
# config on free loopback ports; the server is always killed on exit.
# Needs: openssl, curl, python3 (standard library only).
set -uo pipefail

T_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# lib.sh: check, expect_exit, $TMP, and the final "N passed, M failed" line.
. "$T_HERE/lib.sh"
JWT="python3 $T_HERE/k8s_jwt.py"
T_DIR=$TMP
SRV_PID=""

# On exit: kill the server if it still runs, fail on a sanitizer report in its
# log (its stderr), then lib.sh's summary.
t_exit() {
  local rc=$?
  if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill -KILL "$SRV_PID" 2>/dev/null
    { wait "$SRV_PID"; } 2>/dev/null
  fi
  if grep -qE "$LIB_SANITIZER" "$T_DIR/server.log" 2>/dev/null; then
    grep -E -A 20 "$LIB_SANITIZER" "$T_DIR/server.log" | head -60
    echo "FAIL - the server's log has a sanitizer report"
    LIB_FAILED=$((LIB_FAILED + 1))
  fi
  [ -z "${T_KEEP:-}" ] || cp -r "$T_DIR" "$T_DIR.kept"
  (exit "$rc")
  lib_finish
}
trap t_exit EXIT

# t_exit_clients PID...: an EXIT trap for tests that run clients beside the
# server: kills the given processes, fails on a sanitizer report in any
# client's log (every *.log in T_DIR but server.log), then t_exit.
t_exit_clients() {
  local rc=$?
  for p in "$@"; do
    kill -KILL "$p" 2>/dev/null && { wait "$p"; } 2>/dev/null
  done
  for f in "$T_DIR"/*.log; do
    [ "$f" = "$T_DIR/server.log" ] && continue
    if grep -qE "$LIB_SANITIZER" "$f" 2>/dev/null; then
      grep -E -A 20 "$LIB_SANITIZER" "$f" | head -40
      t_fail "$(basename "$f") has a sanitizer report"
    fi
  done
  (exit "$rc")
  t_exit
}

t_ok() {
  LIB_PASSED=$((LIB_PASSED + 1))
  echo "ok - $1"
}
t_fail() {
  LIB_FAILED=$((LIB_FAILED + 1))
  echo "FAIL - $1${2:+: $2}"
}

# expect_eq DESC GOT WANT
expect_eq() {
  if [ "$2" = "$3" ]; then t_ok "$1"; else t_fail "$1" "got '$2', want '$3'"; fi
}

# finish ends the script; the EXIT trap prints the summary.
finish() {
  exit 0
}

# last_output prints the last line of the previous check's output.
last_output() {
  tail -1 "$LIB_OUT"
}

free_ports() { # N
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# make_pki: root, intermediate (DNS localhost permitted), provisioner
# "bootstrap", Kubernetes RSA and EC keys with their JWKS, under $T_DIR/pki.
make_pki() {
  local p=$T_DIR/pki
  mkdir -p "$p"
  printf 'dev-passphrase\n' >"$p/root.pass"
  chmod 600 "$p/root.pass"
  "$SIGNET_BIN" root init --dir "$p" --trust-domain example.org --passphrase-file "$p/root.pass" >/dev/null &&
    "$SIGNET_BIN" intermediate init --dir "$p" --trust-domain example.org >/dev/null &&
    "$SIGNET_BIN" root sign-intermediate --dir "$p" --csr "$p/intermediate.csr" \
      --out "$p/intermediate.crt" --permit-dns localhost --passphrase-file "$p/root.pass" >/dev/null &&
    "$SIGNET_BIN" provisioner init --dir "$p" --name bootstrap >/dev/null &&
    $JWT keys "$p"
}

# write_config: $T_DIR/signet.json on fresh ports; sets HTTPS_URL, HTTP_URL.
write_config() {
  local ports
  read -r HTTPS_PORT HTTP_PORT <<<"$(free_ports 2)"
  HTTPS_URL=https://127.0.0.1:$HTTPS_PORT
  HTTP_URL=http://127.0.0.1:$HTTP_PORT
  cat >"$T_DIR/signet.json" <<JSON
{
  "trust_domain": "example.org",
  "listen": { "https": "127.0.0.1:$HTTPS_PORT", "http": "127.0.0.1:$HTTP_PORT" },
  "public_url": "$HTTP_URL",
  "pki": { "roots": "pki/root.crt", "intermediate_cert": "pki/intermediate.crt",
           "intermediate_key": "pki/intermediate.key" },
  "tls": { "dns_names": ["localhost"], "ip_addresses": ["127.0.0.1"] },
  "store": { "path": "db", "map_size_mb": 64 },
  "leaf": { "default_ttl": "1h", "max_ttl": "24h" },
  "auth": {
    "kubernetes": { "issuer": "https://kubernetes.default.svc.cluster.local",
                    "audiences": ["signet"], "jwks_file": "pki/jwks.json" },
    "provisioners": [ { "name": "bootstrap", "public_key": "pki/bootstrap.pub", "max_ttl": "2h" } ],
    "admins": ["spiffe://example.org/admin/ops"]
  },
  "crl": { "validity": "24h", "refresh": "1h" },
  "ocsp": { "validity": "4h" }
}
JSON
}

# start_server [ENV=VALUE...]: starts signet serve and waits (at most ~20 s)
# for /readyz; returns 1 when it does not come up.
start_server() {
  env "$@" "$SIGNET_BIN" serve --config "$T_DIR/signet.json" 2>>"$T_DIR/server.log" &
  SRV_PID=$!
  for _ in $(seq 1 200); do
    if curl -fs -o /dev/null "$HTTP_URL/readyz"; then return 0; fi
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not become ready:" >&2
  tail -5 "$T_DIR/server.log" >&2
  return 1
}

# stop_server [SIGNAL]: signals the server and sets SRV_RC to its exit code.
stop_server() {
  kill -"${1:-TERM}" "$SRV_PID" 2>/dev/null
  { wait "$SRV_PID"; } 2>/dev/null
  SRV_RC=$?
  SRV_PID=""
}

# make_csr NAME [openssl req args...]: P-256 key NAME.key and CSR NAME.csr.
make_csr() {
  local n=$1
  shift
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/$n.key" \
    -subj / "$@" -out "$T_DIR/$n.csr" 2>/dev/null
}

# body CSRFILE [TTL]: the JSON body of /v1/sign and /v1/renew on stdout.
body() {
  python3 -c 'import json,sys
d = {"csr": open(sys.argv[1]).read()}
if len(sys.argv) > 2: d["ttl"] = sys.argv[2]
print(json.dumps(d))' "$@"
}

# k8s_token ALG KID [NS SA [EXTRA-CLAIMS-JSON]]: a Kubernetes service-account token.
k8s_token() {
  local alg=$1 kid=$2 ns=${3:-default} sa=${4:-web} extra=${5:-'{}'}
  $JWT token "$T_DIR/pki" "$alg" "$kid" "$(python3 -c 'import json,sys
c = {"iss": "https://kubernetes.default.svc.cluster.local", "aud": ["signet"],
     "exp": "now+600", "iat": "now", "nbf": "now",
     "sub": "system:serviceaccount:%s:%s" % (sys.argv[1], sys.argv[2]),
     "kubernetes.io": {"namespace": sys.argv[1],
                       "serviceaccount": {"name": sys.argv[2], "uid": "u1"}}}
c.update(json.loads(sys.argv[3]))
print(json.dumps(c))' "$ns" "$sa" "$extra")"
}

# prov_token SPIFFE-ID [DNS-NAME]...: a provisioner token from `signet token`
# (or, while that command is missing, the same claims signed here).
prov_token() {
  local id=$1
  shift
  if "$SIGNET_BIN" token --help >/dev/null 2>&1; then
    local dns=()
    for d in "$@"; do dns+=(--dns "$d"); done
    "$SIGNET_BIN" token --key "$T_DIR/pki/bootstrap.key" --provisioner bootstrap \
      --spiffe-id "$id" "${dns[@]}"
    return
  fi
  $JWT token "$T_DIR/pki" ES256 "" "$(python3 -c 'import json,sys,uuid
print(json.dumps({"iss": "bootstrap", "aud": "spiffe://example.org/signet/server",
                  "sub": sys.argv[1], "dns": sys.argv[2:], "jti": str(uuid.uuid4()),
                  "iat": "now", "nbf": "now", "exp": "now+300"}))' "$id" "$@")" \
    "$T_DIR/pki/bootstrap.key"
}

# post URL TOKEN BODYFILE OUT [curl args...]: prints the HTTP status; the body
# goes to OUT and the headers to OUT.h.
post() {
  local url=$1 tok=$2 bodyf=$3 out=$4
  shift 4
  local auth=()
  [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
  curl -s --cacert "$T_DIR/pki/root.crt" "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary @"$bodyf" -D "$out.h" -o "$out" -w '%{http_code}' "$@" "$url"
}

# json_get FILE KEY: one top-level string or number of a JSON file.
json_get() {
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2], "")
print(v if not isinstance(v, list) else ",".join(v), end="")' "$1" "$2" 2>/dev/null
}

# split_response FILE PREFIX: PREFIX.crt (leaf) and PREFIX.chain.pem from a 201.
split_response() {
  python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
open(sys.argv[2] + ".crt", "w").write(r["certificate"])
open(sys.argv[2] + ".chain.pem", "w").write(r["chain"])' "$1" "$2"
}

# expect_refusal DESC STATUS CODE GOT-STATUS OUT: the answer was STATUS with
# a JSON error body {"error": CODE, "message": non-empty}.
expect_refusal() {
  local desc=$1 want=$2 code=$3 got=$4 out=$5
  local err msg
  err=$(json_get "$out" error)
  msg=$(json_get "$out" message)
  if [ "$got" = "$want" ] && [ "$err" = "$code" ] && [ -n "$msg" ]; then
    t_ok "$desc ($want $code: $msg)"
  else
    t_fail "$desc" "got $got $(head -c 200 "$out"), want $want $code"
  fi
}

# sign_until_full BODY-FILE TOKEN [SERIALS-FILE [MAX]]: issues over one
# kept-alive HTTPS connection until an answer is not 201 (at most MAX times,
# default 20000); that answer must be 503 unavailable (the store is full or
# unwritable). The serials issued are appended to SERIALS-FILE when given.
sign_until_full() {
  python3 - "$HTTPS_PORT" "$T_DIR/pki/root.crt" "$1" "$2" "${3:-}" "${4:-20000}" <<'PY'
import http.client, json, ssl, sys
port, cafile, body_file, token, out, most = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
body = open(body_file, "rb").read()
serials = open(out, "a") if out else None
for i in range(int(most)):
    conn.request("POST", "/v1/sign", body=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + token})
    r = conn.getresponse()
    doc = json.loads(r.read())
    if r.status != 201:
        print(i, "issued, then", r.status, doc)
        assert r.status == 503 and doc["error"] == "unavailable" and doc["message"], doc
        break
    if serials:
        serials.write(doc["serial"] + "\n")
else:
    raise SystemExit("never refused after %s issuances" % most)
PY
}

# hand_sign NAME START END SPIFFE-ID: NAME.crt for NAME.csr signed directly
# with the intermediate's key by `openssl ca` (never recorded in the store),
# valid from START to END (YYYYMMDDHHMMSSZ).
hand_sign() {
  local n=$1 start=$2 end=$3 id=$4 d=$T_DIR/handca
  mkdir -p "$d"
  : >"$d/index.txt"
  openssl rand -hex 16 >"$d/serial"
  cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
dir = $d
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = p
copy_extensions = none
x509_extensions = ext
unique_subject = no
[p]
commonName = optional
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = critical,URI:$id
CNF
  openssl ca -batch -config "$d/ca.cnf" -cert "$T_DIR/pki/intermediate.crt" \
    -keyfile "$T_DIR/pki/intermediate.key" -in "$T_DIR/$n.csr" -out "$T_DIR/$n.crt" \
    -startdate "$start" -enddate "$end" -notext >/dev/null 2>&1
}
