#!/usr/bin/env bash
# test_key_hygiene.sh: the clients leave no private key in freed heap memory
# (STYLE.md 5: key material is cleansed when freed). `signet certs show`,
# `signet revoke` and `signet agent --once` (first with a token, then renewing
# over mTLS with the key it wrote) run against a real server under an
# LD_PRELOAD shim (free_scan.c, built here with cc) that looks into every block
# given to free() or moved by realloc() for "PRIVATE KEY-----" and for the
# first base64 line of the key in use. Any such block fails the test.
#
# ASan and TSan replace malloc and free, so the shim cannot run beside them:
# with a sanitizer build the test says so and skips. It loses nothing there:
# tests/run.sh runs it with the normal build too, and running that build's
# binary again from the sanitizer suite would only repeat the same run.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"
cd "$T_DIR" || exit 1
trap 't_exit_clients' EXIT

# The sanitizer's entry point is named in the binary, linked statically or not.
if grep -qaE '__(asan|tsan)_init' "$SIGNET_BIN"; then
  echo "# skipped: $SIGNET_BIN is a sanitizer build, which replaces free()"
  finish
fi
check "the free() shim builds" \
  cc -shared -fPIC -O1 -Wall -Werror -o "$T_DIR/free_scan.so" "$T_HERE/free_scan.c" -ldl

# b64_line KEYFILE: the first base64 line of a PEM key (64 characters).
b64_line() { sed -n '2p' "$1"; }

# scanned LOG KEYFILE CMD...: runs CMD (a program, not a shell function,
# so that the shim reaches nothing else) under the shim, which looks for
# KEYFILE's base64 and the PEM armour and writes its reports to LOG.
# Returns CMD's exit status.
scanned() {
  local log=$1 needle
  needle=$(b64_line "$2")
  shift 2
  rm -f "$log"
  env LD_PRELOAD="$T_DIR/free_scan.so" FREE_SCAN_LOG="$log" FREE_SCAN_NEEDLES="$needle" "$@"
}

# no_key_freed LOG: the shim reported nothing (its report is shown otherwise).
no_key_freed() {
  if [ -s "$1" ]; then
    head -40 "$1"
    return 1
  fi
}

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }
P=$T_DIR/pki
check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
check "a workload SVID is issued" issue web spiffe://example.org/ns/default/sa/web
WEB=$(serial_of web)

# The shim sees its needles: openssl reads admin.key through stdio, whose
# buffer goes back to free() uncleansed, so the shim must report it (a shim
# that saw nothing would pass every check below).
check "the shim reports the key in openssl's freed stdio buffer (self-test)" \
  scanned self.scan admin.key openssl pkey -in admin.key -noout
check "... naming the key's base64" grep -qF "$(b64_line admin.key)" self.scan

section "signet certs show and signet revoke (--cert/--key files)"
ADMIN=(--server "$HTTPS_URL" --cert "$T_DIR/admin.crt" --key "$T_DIR/admin.key" --ca "$P/root.crt")
check "certs show exits 0 under the shim" \
  scanned show.scan admin.key "$SIGNET_BIN" certs show "$WEB" "${ADMIN[@]}"
check "... and frees no block holding admin.key" no_key_freed show.scan
check "revoke exits 0 under the shim" \
  scanned revoke.scan admin.key "$SIGNET_BIN" revoke "$WEB" "${ADMIN[@]}"
check "... and frees no block holding admin.key" no_key_freed revoke.scan

section "signet agent --once"
AGENT=("$SIGNET_BIN" agent --server "$HTTPS_URL" --ca "$P/root.crt" --token-file token --out svid --once)
prov_token spiffe://example.org/app/web >token
scanned agent1.scan /dev/null "${AGENT[@]}" 2>agent1.log
expect_eq "agent --once with a token exits 0 under the shim" "$?" 0
check "... and frees no block holding a PEM private key" no_key_freed agent1.scan
scanned agent2.scan svid/svid.key "${AGENT[@]}" 2>agent2.log
expect_eq "a second agent --once exits 0 under the shim" "$?" 0
check "... having renewed over mTLS with svid.key" grep -q '"msg":"SVID renewed"' agent2.log
check "... and frees no block holding svid.key" no_key_freed agent2.scan
finish
