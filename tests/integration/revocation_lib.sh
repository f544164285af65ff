# revocation_lib.sh: helpers for test_revoke.sh, test_crl.sh and test_ocsp.sh,
# sourced after serve_lib.sh (whose make_pki, write_config, start_server,
# post and json_get they build on).

# issue NAME SPIFFE-ID: a P-256 SVID from POST /v1/sign with a provisioner
# token: NAME.key, NAME.crt, NAME.chain.pem and NAME.serial under $T_DIR.
issue() {
  local n=$1 id=$2 st
  make_csr "$n" || return 1
  body "$T_DIR/$n.csr" >"$T_DIR/$n.json"
  st=$(post "$HTTPS_URL/v1/sign" "$(prov_token "$id")" "$T_DIR/$n.json" "$T_DIR/$n.resp")
  if [ "$st" != 201 ]; then
    echo "issuing $n failed: $st $(head -c 200 "$T_DIR/$n.resp")" >&2
    return 1
  fi
  split_response "$T_DIR/$n.resp" "$T_DIR/$n"
  jstr "$T_DIR/$n.resp" serial >"$T_DIR/$n.serial"
}

# jstr FILE KEY: a top-level string field of the compact JSON the server
# writes (no python start-up: these tests make hundreds of such reads).
jstr() {
  sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1" | head -1
}

# refused DESC STATUS CODE GOT: the last answer ($T_DIR/out) was STATUS with
# a JSON error {"error": CODE, "message": non-empty}.
refused() {
  local desc=$1 want=$2 code=$3 got=$4
  if [ "$got" = "$want" ] && grep -q "\"error\":\"$code\"" "$T_DIR/out" &&
    grep -q '"message":"[^"]' "$T_DIR/out"; then
    t_ok "$desc ($want $code: $(jstr "$T_DIR/out" message))"
  else
    t_fail "$desc" "got $got $(head -c 200 "$T_DIR/out"), want $want $code"
  fi
}

# serial_of NAME: the serial issue NAME recorded.
serial_of() {
  echo "$(cat "$T_DIR/$1.serial")"
}

# as NAME METHOD PATH [BODY-JSON]: an HTTPS request with NAME.crt/NAME.key as
# the client certificate ("-" for none). Prints the status; the body goes to
# $T_DIR/out and the headers to $T_DIR/out.h.
as() {
  local who=$1 method=$2 path=$3 data=${4:-}
  local args=(-s --cacert "$T_DIR/pki/root.crt" -X "$method" -D "$T_DIR/out.h" -o "$T_DIR/out"
    -w '%{http_code}')
  [ "$who" != - ] && args+=(--cert "$T_DIR/$who.crt" --key "$T_DIR/$who.key")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  curl "${args[@]}" "$HTTPS_URL$path"
}

# revoke_body SERIAL [REASON]: the JSON of POST /v1/revoke.
revoke_body() {
  if [ -n "${2:-}" ]; then
    printf '{"serial":"%s","reason":"%s"}' "$1" "$2"
  else
    printf '{"serial":"%s"}' "$1"
  fi
}

# ocsp NAME [openssl ocsp args...]: asks the responder over HTTP about NAME.crt
# and prints openssl's report (its status line says good, revoked or unknown).
ocsp() {
  local n=$1
  shift
  openssl ocsp -issuer "$T_DIR/pki/intermediate.crt" -cert "$T_DIR/$n.crt" \
    -url "$HTTP_URL/ocsp" -CAfile "$T_DIR/pki/root.crt" "$@" 2>&1
}

# ocsp_status NAME [args...]: just "good", "revoked" or "unknown" (or the
# whole report when the response did not verify).
ocsp_status() {
  local out
  out=$(ocsp "$@")
  if echo "$out" | grep -q '^Response verify OK'; then
    echo "$out" | sed -n "s|^$T_DIR/$1.crt: ||p"
  else
    echo "$out"
  fi
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
  local tries=$(($1 * 10))
  shift
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  "$@"
}

# crl_number URL: the CRL number of the DER CRL at URL, in decimal. openssl
# prints it in hex; the server's numbers are times in milliseconds (about 41
# bits), well within the shell's 63-bit arithmetic.
crl_number() {
  local v
  v=$(curl -s "$1" | openssl crl -inform DER -noout -crlnumber | sed 's/^crlNumber=//')
  case $v in
    0x*) echo $((16#${v#0x})) ;;
    *) echo "$v" ;;
  esac
}
