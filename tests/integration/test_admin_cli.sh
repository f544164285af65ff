#!/usr/bin/env bash
# test_admin_cli.sh: `signet revoke` and `signet certs list/show` against a
# real server over mTLS: tables and --json, filters and pagination followed
# by the client, renewals listed by the serial renewed and revoked with it
# (--with-renewals), the first revocation standing, refusals mapped to exit 1
# and usage errors to exit 2.
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/revocation_lib.sh"

make_pki >/dev/null 2>&1 || { t_fail "make the dev PKI"; finish; }
write_config
start_server || { t_fail "the server starts"; finish; }
P=$T_DIR/pki

check "an admin SVID is issued" issue admin spiffe://example.org/admin/ops
for n in web db cache; do
  check "a workload SVID ($n) is issued" issue "$n" "spiffe://example.org/ns/default/sa/$n"
done
WEB=$(serial_of web)
DB=$(serial_of db)

# adm ARGS...: signet with the admin's identity; stdout to $T_DIR/cli.out,
# stderr to $T_DIR/cli.err; returns signet's exit status.
adm() {
  "$SIGNET_BIN" "$@" --server "$HTTPS_URL" --cert "$T_DIR/admin.crt" --key "$T_DIR/admin.key" \
    --ca "$P/root.crt" >"$T_DIR/cli.out" 2>"$T_DIR/cli.err"
}
# as_web ARGS...: the same with web's identity.
as_web() {
  "$SIGNET_BIN" "$@" --server "$HTTPS_URL" --cert "$T_DIR/web.crt" --key "$T_DIR/web.key" \
    --ca "$P/root.crt" >"$T_DIR/cli.out" 2>"$T_DIR/cli.err"
}
exits() { # CODE CMD...: CMD exits with CODE
  local want=$1
  shift
  "$@"
  local got=$?
  [ "$got" = "$want" ] || { echo "exit $got, want $want: $(cat "$T_DIR/cli.err")"; return 1; }
}

echo "# signet certs"
check "certs list exits 0" adm certs list
check "... and its table names every serial" \
  sh -c "for s in $WEB $DB $(serial_of cache) $(serial_of admin); do grep -q \$s '$T_DIR/cli.out' || exit 1; done"
check "certs list --json prints a JSON array of 5 records (4 SVIDs and the server's own)" \
  sh -c "'$SIGNET_BIN' certs list --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit(not (isinstance(d, list) and len(d) == 5))'"
check "certs list --limit 2 prints 2 records" \
  sh -c "'$SIGNET_BIN' certs list --limit 2 --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)) != 2)'"
check "certs list --spiffe-id finds db only" \
  sh -c "'$SIGNET_BIN' certs list --spiffe-id spiffe://example.org/ns/default/sa/db --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit([r[\"serial\"] for r in d] != [\"$DB\"])'"
check "certs show SERIAL exits 0 and names the SPIFFE ID" \
  sh -c "'$SIGNET_BIN' certs show $WEB --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' | grep -q spiffe://example.org/ns/default/sa/web"
check "certs show of an unknown serial exits 1" exits 1 adm certs show 1234abcd
check "... saying not found" grep -qi 'not.found' "$T_DIR/cli.err"
check "a workload's certs list exits 1 (403)" exits 1 as_web certs list
check "... saying forbidden" grep -qi 'forbidden\|403' "$T_DIR/cli.err"
check "certs list --status bogus is a usage error (exit 2)" exits 2 adm certs list --status bogus

# renew_as NAME NEW: renews NAME's certificate over mTLS for a fresh key:
# NEW.key, NEW.crt and NEW.serial.
renew_as() {
  make_csr "$2" && body "$T_DIR/$2.csr" >"$T_DIR/$2.json" &&
    [ "$(as "$1" POST /v1/renew "@$T_DIR/$2.json")" = 201 ] &&
    split_response "$T_DIR/out" "$T_DIR/$2" && jstr "$T_DIR/out" serial >"$T_DIR/$2.serial"
}
echo "# renewals: renewed_from"
renewals() { renew_as db db2 && renew_as db db3 && renew_as db2 db4; }
check "db is renewed twice (db2, db3), and db2 once (db4)" renewals
check "certs show --json of a renewal names the certificate it was renewed with" \
  sh -c "'$SIGNET_BIN' certs show $(serial_of db2) --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; sys.exit(json.load(sys.stdin).get(\"renewed_from\") != \"$DB\")'"
check "... and a certificate issued for a token names none" \
  sh -c "'$SIGNET_BIN' certs show $DB --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; sys.exit(\"renewed_from\" in json.load(sys.stdin))'"
check "certs list --renewed-from DB lists db2 and db3, not db4 (renewed from db2)" \
  sh -c "'$SIGNET_BIN' certs list --renewed-from $DB --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; sys.exit(sorted(r[\"serial\"] for r in json.load(sys.stdin)) != sorted([\"$(serial_of db2)\", \"$(serial_of db3)\"]))'"
check "certs list --renewed-from xyz is a usage error (exit 2)" exits 2 adm certs list --renewed-from xyz
expect_eq "GET /v1/certs?renewed_from=xyz is 400" "$(as admin GET '/v1/certs?renewed_from=xyz')" 400

echo "# signet revoke"
colon=$(openssl x509 -in "$T_DIR/web.crt" -noout -serial | cut -d= -f2 | sed 's/../&:/g; s/:$//')
check "revoke with a colon-separated upper-case serial ($colon) exits 0" \
  adm revoke "$colon" --reason keyCompromise
check "revoke --json again gives the first revocation (keyCompromise)" \
  sh -c "'$SIGNET_BIN' revoke $WEB --reason superseded --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit(d[\"reason\"] != \"keyCompromise\" or d[\"serial\"] != \"$WEB\")'"
expect_eq "OCSP says revoked" "$(ocsp_status web -no_nonce)" revoked
check "certs list --status revoked lists web only" \
  sh -c "'$SIGNET_BIN' certs list --status revoked --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit([r[\"serial\"] for r in d] != [\"$WEB\"])'"
check "certs show --json says revoked, keyCompromise" \
  sh -c "'$SIGNET_BIN' certs show $WEB --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit((d[\"status\"], d[\"reason\"]) != (\"revoked\", \"keyCompromise\"))'"
check "db revoking cache (not an admin) exits 1" exits 1 \
  "$SIGNET_BIN" revoke "$(serial_of cache)" --server "$HTTPS_URL" --cert "$T_DIR/db.crt" \
  --key "$T_DIR/db.key" --ca "$P/root.crt"
check "db revokes its own certificate: exit 0" \
  "$SIGNET_BIN" revoke "$DB" --reason cessationOfOperation --server "$HTTPS_URL" \
  --cert "$T_DIR/db.crt" --key "$T_DIR/db.key" --ca "$P/root.crt"
check "the revoked web certificate can no longer act (exit 1)" exits 1 as_web revoke "$(serial_of cache)"
check "revoking an unknown serial exits 1" exits 1 adm revoke 1234abcd
check "an unknown reason is a usage error (exit 2)" exits 2 adm revoke "$DB" --reason stolen
check "a serial that is not hex is a usage error (exit 2)" exits 2 adm revoke xyz
check "no --server is a usage error (exit 2)" exits 2 \
  "$SIGNET_BIN" revoke "$DB" --cert "$T_DIR/admin.crt" --key "$T_DIR/admin.key" --ca "$P/root.crt"
# db (revoked above, cessationOfOperation) was renewed as db2 and db3, and
# db2 as db4: all three still valid until --with-renewals.
status_of() {
  "$SIGNET_BIN" certs show "$1" --json --server "$HTTPS_URL" --cert "$T_DIR/admin.crt" \
    --key "$T_DIR/admin.key" --ca "$P/root.crt" | python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["status"], d.get("reason", "-"))'
}
expect_eq "db2 is still valid" "$(status_of "$(serial_of db2)")" "valid -"
check "revoke DB --with-renewals --reason keyCompromise exits 0" \
  adm revoke "$DB" --with-renewals --reason keyCompromise
expect_eq "... printing db (first revocation) and its three renewals" \
  "$(grep -c '^revoked ' "$T_DIR/cli.out")" 4
for n in db2 db3 db4; do
  expect_eq "... $n is revoked, keyCompromise" "$(status_of "$(serial_of "$n")")" "revoked keyCompromise"
done
expect_eq "... db keeps its first revocation" "$(status_of "$DB")" "revoked cessationOfOperation"
expect_eq "... cache, not renewed from db, is untouched" "$(status_of "$(serial_of cache)")" "valid -"
check "revoke --with-renewals --json again prints a JSON array of the first revocation" \
  sh -c "'$SIGNET_BIN' revoke $DB --with-renewals --json --server '$HTTPS_URL' --cert '$T_DIR/admin.crt' --key '$T_DIR/admin.key' --ca '$P/root.crt' |
         python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit([r[\"serial\"] for r in d] != [\"$DB\"])'"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/other.key" \
  -subj /CN=other -days 1 -out "$T_DIR/other.crt" 2>/dev/null
check "a --ca the server does not chain to exits 1" exits 1 \
  "$SIGNET_BIN" certs list --server "$HTTPS_URL" --cert "$T_DIR/admin.crt" --key "$T_DIR/admin.key" \
  --ca "$T_DIR/other.crt"
check "the server is healthy" curl -fs "$HTTP_URL/healthz"
stop_server TERM
expect_eq "the server stops cleanly" "$SRV_RC" 0
finish
