#!/usr/bin/env bash
# test_ceremony.sh: the offline ceremony end to end with the real signet binary
# and the real openssl: root init, intermediate init, sign-intermediate,
# provisioner init; file modes, passphrases, refusals to overwrite, exit codes,
# --help; and the intermediate's name constraints as openssl verify sees them.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

S=$SIGNET_BIN
TD=example.org
unset SIGNET_ROOT_PASSPHRASE

has_mode() { # file mode
  [ "$(stat -c %a "$1")" = "$2" ]
}

# snapshot prints every file under a directory with its mode and hash, so that
# "nothing changed" is one comparison.
snapshot() {
  (cd "$1" && find . -type f -o -type l | sort | while read -r f; do
    echo "$f $(stat -c %a "$f") $(sha256sum <"$f")"
  done)
}

same_snapshot() { # dir file-with-earlier-snapshot
  diff <(snapshot "$1") "$2"
}

absent() {
  [ ! -e "$1" ] && [ ! -L "$1" ]
}

output_has() { # text command...
  local want=$1 out
  shift
  out=$("$@" 2>&1)
  printf '%s\n' "$out"
  grep -qF -- "$want" <<<"$out"
}

stdout_nonempty() {
  local out
  out=$("$@") && [ -n "$out" ]
}

stderr_one_line() { # expected-exit command...
  local want=$1
  shift
  "$@" >/dev/null 2>"$TMP/stderr"
  local got=$?
  cat "$TMP/stderr"
  [ "$got" -eq "$want" ] && [ "$(wc -l <"$TMP/stderr")" -eq 1 ] && grep -q '^signet ' "$TMP/stderr"
}

# leaf_verify makes, with openssl alone, a leaf signed by the intermediate in
# directory $1 with the SAN $2, and runs openssl verify against the root in $3.
leaf_verify() { # inter-dir san root-dir
  local d=$1 san=$2 r=$3 n
  n=$(mktemp -u "$TMP/leaf.XXXXXX")
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=%s\n' \
    "$san" >"$n.ext"
  openssl x509 -req -in "$TMP/leaf.csr" -CA "$d/intermediate.crt" -CAkey "$d/intermediate.key" \
    -set_serial 0x1234 -days 1 -extfile "$n.ext" -out "$n.crt" 2>"$n.err" || {
    cat "$n.err"
    return 1
  }
  openssl verify -CAfile "$r/root.crt" -untrusted "$d/intermediate.crt" "$n.crt"
}

accepts() { # inter-dir san root-dir
  local out
  out=$(leaf_verify "$@" 2>&1)
  echo "$out"
  echo "$out" | grep -q ': OK$'
}

refuses_by_name_constraints() { # inter-dir san root-dir
  local out
  out=$(leaf_verify "$@" 2>&1)
  echo "$out"
  ! echo "$out" | grep -q ': OK$' && echo "$out" | grep -qi 'permitted subtree violation'
}

printf 'correct horse battery\n' >"$TMP/pass"
printf 'wrong horse\n' >"$TMP/wrongpass"
: >"$TMP/emptypass"
printf '\n' >"$TMP/newlinepass"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/leaf.key" \
  -subj /O=test -out "$TMP/leaf.csr" >/dev/null 2>&1 || exit 1

# ---------------------------------------------------------------------------
section "the whole ceremony, for each key type"
for kt in ec-p256 ec-p384 ed25519 rsa-3072; do
  R=$TMP/$kt/root
  I=$TMP/$kt/inter
  check "$kt: root init with a passphrase file" \
    "$S" root init --dir "$R" --trust-domain $TD --key-type $kt --passphrase-file "$TMP/pass"
  check "$kt: root.key is 0600" has_mode "$R/root.key" 600
  check "$kt: root.crt is 0644" has_mode "$R/root.crt" 644
  check "$kt: the root directory is created 0700" has_mode "$R" 700
  check "$kt: root.key opens with the passphrase" \
    openssl pkey -in "$R/root.key" -passin "file:$TMP/pass" -noout
  check "$kt: the root is self-signed and verifies" \
    openssl verify -CAfile "$R/root.crt" "$R/root.crt"
  check "$kt: intermediate init" \
    "$S" intermediate init --dir "$I" --trust-domain $TD --key-type $kt
  check "$kt: intermediate.key is 0600" has_mode "$I/intermediate.key" 600
  check "$kt: intermediate.key is unencrypted PKCS#8" \
    grep -q -- '-----BEGIN PRIVATE KEY-----' "$I/intermediate.key"
  check "$kt: the CSR verifies" openssl req -in "$I/intermediate.csr" -verify -noout
  check "$kt: sign-intermediate" \
    "$S" root sign-intermediate --dir "$R" --csr "$I/intermediate.csr" \
    --out "$I/intermediate.crt" --permit-dns svc.example.org --passphrase-file "$TMP/pass"
  check "$kt: openssl verify -CAfile root.crt intermediate.crt" \
    output_has "intermediate.crt: OK" openssl verify -CAfile "$R/root.crt" "$I/intermediate.crt"
  check "$kt: a leaf in the trust domain verifies" \
    accepts "$I" URI:spiffe://$TD/ns/x "$R"
  check "$kt: a leaf of another trust domain fails name constraints" \
    refuses_by_name_constraints "$I" URI:spiffe://other.org/x "$R"
done

# ---------------------------------------------------------------------------
section "root init, in detail (ec-p256)"
R=$TMP/ec-p256/root
I=$TMP/ec-p256/inter
openssl x509 -in "$R/root.crt" -noout -text >"$TMP/root.txt"
openssl x509 -in "$I/intermediate.crt" -noout -text >"$TMP/inter.txt"
check "the root says CA:TRUE, pathlen:1, critical" \
  bash -c "grep -A1 'Basic Constraints: critical' '$TMP/root.txt' | grep -q 'CA:TRUE, pathlen:1'"
check "the root's key usage is critical: Certificate Sign, CRL Sign" \
  bash -c "grep -A1 'Key Usage: critical' '$TMP/root.txt' | grep -q '^ *Certificate Sign, CRL Sign$'"
check "the root has a subject key identifier" grep -q 'Subject Key Identifier' "$TMP/root.txt"
check "the root records its trust domain as URI:spiffe://$TD" \
  grep -q "URI:spiffe://$TD\$" "$TMP/root.txt"
check "the root's subject is CN=$TD root" grep -q "Subject: O = signet, CN = $TD root" "$TMP/root.txt"
check "the root is signed with ecdsa-with-SHA256" grep -q 'ecdsa-with-SHA256' "$TMP/root.txt"
check "root.key is encrypted PKCS#8 with scrypt" \
  bash -c "grep -q 'BEGIN ENCRYPTED PRIVATE KEY' '$R/root.key' && openssl asn1parse -in '$R/root.key' | grep -q ':scrypt'"
check "openssl pkey fails on root.key without the passphrase" \
  expect_exit 1 openssl pkey -in "$R/root.key" -passin pass: -noout
check "openssl pkey fails on root.key with a wrong passphrase" \
  expect_exit 1 openssl pkey -in "$R/root.key" -passin "file:$TMP/wrongpass" -noout
check "the root's validity defaults to 10 years" \
  bash -c "openssl x509 -in '$R/root.crt' -noout -checkend $((87600 * 3600 - 600)) && ! openssl x509 -in '$R/root.crt' -noout -checkend $((87600 * 3600 + 600))"

R2=$TMP/envroot
check "root init takes the passphrase from SIGNET_ROOT_PASSPHRASE" \
  env SIGNET_ROOT_PASSPHRASE='from the env' "$S" root init --dir "$R2" --trust-domain $TD
check "that root.key opens with the environment's passphrase" \
  env SIGNET_ROOT_PASSPHRASE='from the env' \
  openssl pkey -in "$R2/root.key" -passin env:SIGNET_ROOT_PASSPHRASE -noout
check "--passphrase-file wins over SIGNET_ROOT_PASSPHRASE" \
  env SIGNET_ROOT_PASSPHRASE='from the env' "$S" root init --dir "$TMP/fileroot" \
  --trust-domain $TD --passphrase-file "$TMP/pass"
check "...and the key opens with the file's passphrase" \
  openssl pkey -in "$TMP/fileroot/root.key" -passin "file:$TMP/pass" -noout
# One line end is stripped, "\n", "\r\n" or a lone "\r": each file gives the key
# the bare passphrase gives (here from the environment, taken as it is).
printf 'crlf pass\r\n' >"$TMP/crlfpass"
printf 'cr pass\r' >"$TMP/crpass"
check "root init with a passphrase file ending in CRLF" \
  "$S" root init --dir "$TMP/crlfroot" --trust-domain $TD --passphrase-file "$TMP/crlfpass"
check "...signs with the passphrase without the CRLF" \
  env SIGNET_ROOT_PASSPHRASE='crlf pass' "$S" root crl --dir "$TMP/crlfroot" --out "$TMP/crlf.crl"
check "root init with a passphrase file ending in a lone CR" \
  "$S" root init --dir "$TMP/crroot" --trust-domain $TD --passphrase-file "$TMP/crpass"
check "...signs with the passphrase without the CR" \
  env SIGNET_ROOT_PASSPHRASE='cr pass' "$S" root crl --dir "$TMP/crroot" --out "$TMP/cr.crl"
check "...and openssl opens the key with it" \
  openssl pkey -in "$TMP/crroot/root.key" -passin 'pass:cr pass' -noout
printf 'two\r\r' >"$TMP/crcrpass"
check "a passphrase file with a CR left after the line end is refused" \
  output_has "must hold a single line" "$S" root init --dir "$TMP/e5" --trust-domain $TD \
  --passphrase-file "$TMP/crcrpass"
check "an empty passphrase file exits 1" \
  expect_exit 1 "$S" root init --dir "$TMP/e1" --trust-domain $TD --passphrase-file "$TMP/emptypass"
check "a passphrase file holding just a newline is refused" \
  expect_exit 1 "$S" root init --dir "$TMP/e2" --trust-domain $TD --passphrase-file "$TMP/newlinepass"
check "an empty SIGNET_ROOT_PASSPHRASE is refused" \
  expect_exit 1 env SIGNET_ROOT_PASSPHRASE= "$S" root init --dir "$TMP/e3" --trust-domain $TD
check "no passphrase source and no terminal: exit 1" \
  expect_exit 1 setsid -w "$S" root init --dir "$TMP/e4" --trust-domain $TD
check "...with a message naming the ways to give one" \
  output_has "--passphrase-file" setsid -w "$S" root init --dir "$TMP/e4" --trust-domain $TD
check "refused commands left no files behind" \
  bash -c "[ ! -e '$TMP/e1/root.key' ] && [ ! -e '$TMP/e2/root.key' ] && [ ! -e '$TMP/e3/root.key' ] && [ ! -e '$TMP/e4/root.key' ] && [ ! -e '$TMP/e5/root.key' ]"

if command -v script >/dev/null 2>&1; then
  tty_init() { # dir first second
    (sleep 0.3; printf '%s\n' "$2"; sleep 0.3; printf '%s\n' "$3") |
      timeout 20 script -qec "'$S' root init --dir '$1' --trust-domain $TD" /dev/null
  }
  check "root init asks twice on the terminal" tty_init "$TMP/ttyroot" 'tty pass' 'tty pass'
  check "that root.key opens with the typed passphrase" \
    openssl pkey -in "$TMP/ttyroot/root.key" -passin 'pass:tty pass' -noout
  tty_mismatch() {
    ! tty_init "$TMP/ttyroot2" one two && absent "$TMP/ttyroot2/root.key"
  }
  check "two different passphrases on the terminal are refused, nothing written" tty_mismatch
fi

# ---------------------------------------------------------------------------
section "sign-intermediate, in detail (ec-p256)"
check "the intermediate says CA:TRUE, pathlen:0, critical" \
  bash -c "grep -A1 'Basic Constraints: critical' '$TMP/inter.txt' | grep -q 'CA:TRUE, pathlen:0'"
check "the intermediate's key usage is critical: Certificate Sign, CRL Sign" \
  bash -c "grep -A1 'Key Usage: critical' '$TMP/inter.txt' | grep -q '^ *Certificate Sign, CRL Sign$'"
check "the intermediate has SKID and AKID" \
  bash -c "grep -q 'Subject Key Identifier' '$TMP/inter.txt' && grep -q 'Authority Key Identifier' '$TMP/inter.txt'"
check "the intermediate's AKID is the root's SKID" \
  bash -c "[ \"\$(grep -A1 'Subject Key Identifier' '$TMP/root.txt' | tail -1 | tr -d ' ')\" = \"\$(grep -A1 'Authority Key Identifier' '$TMP/inter.txt' | tail -1 | tr -d ' ' | sed 's/^keyid://')\" ]"
check "the intermediate's SAN is URI:spiffe://$TD" grep -q "URI:spiffe://$TD\$" "$TMP/inter.txt"
check "the intermediate's name constraints are critical, URI $TD and DNS svc.example.org" \
  bash -c "grep -A3 'Name Constraints: critical' '$TMP/inter.txt' | tr -d ' ' | tr '\n' ' ' | grep -q 'Permitted: URI:$TD DNS:svc.example.org'"
check "the intermediate's validity defaults to 1 year" \
  bash -c "openssl x509 -in '$I/intermediate.crt' -noout -checkend $((8760 * 3600 - 600)) && ! openssl x509 -in '$I/intermediate.crt' -noout -checkend $((8760 * 3600 + 600))"

check "a leaf with spiffe://$TD/ns/x verifies" accepts "$I" URI:spiffe://$TD/ns/x "$R"
check "a leaf with spiffe://other.org/x fails with a name-constraint error" \
  refuses_by_name_constraints "$I" URI:spiffe://other.org/x "$R"
check "a leaf with spiffe://sub.$TD/x fails (the URI host must match exactly)" \
  refuses_by_name_constraints "$I" URI:spiffe://sub.$TD/x "$R"
check "a leaf with DNS web.svc.example.org (inside --permit-dns) verifies" \
  accepts "$I" "URI:spiffe://$TD/ns/x,DNS:web.svc.example.org" "$R"
check "a leaf with DNS www.example.com (outside --permit-dns) fails" \
  refuses_by_name_constraints "$I" "URI:spiffe://$TD/ns/x,DNS:www.example.com" "$R"

I2=$TMP/short
check "a root of 2 hours" \
  "$S" root init --dir "$I2/root" --trust-domain $TD --ttl 2h --passphrase-file "$TMP/pass"
check "an intermediate under it" "$S" intermediate init --dir "$I2" --trust-domain $TD
check "sign-intermediate with the default ttl succeeds" \
  "$S" root sign-intermediate --dir "$I2/root" --csr "$I2/intermediate.csr" \
  --out "$I2/intermediate.crt" --passphrase-file "$TMP/pass"
check "the intermediate ends with the root, not a year later" \
  bash -c "[ \"\$(openssl x509 -in '$I2/intermediate.crt' -noout -enddate)\" = \"\$(openssl x509 -in '$I2/root/root.crt' -noout -enddate)\" ]"
check "without --permit-dns, DNS names are not constrained (RFC 5280: only listed types are)" \
  accepts "$I2" "URI:spiffe://$TD/ns/x,DNS:anything.example.net" "$I2/root"
check "...while URIs still are" refuses_by_name_constraints "$I2" URI:spiffe://other.org/x "$I2/root"
check "sign-intermediate with a wrong passphrase exits 1" \
  expect_exit 1 "$S" root sign-intermediate --dir "$R" --csr "$I/intermediate.csr" \
  --out "$TMP/x.crt" --passphrase-file "$TMP/wrongpass"
check "...saying the passphrase is wrong" \
  output_has "wrong passphrase" "$S" root sign-intermediate --dir "$R" \
  --csr "$I/intermediate.csr" --out "$TMP/x.crt" --passphrase-file "$TMP/wrongpass"
check "...and writing nothing" absent "$TMP/x.crt"
printf 'garbage\n' >"$TMP/garbage.csr"
check "a CSR that is not one exits 1" \
  expect_exit 1 "$S" root sign-intermediate --dir "$R" --csr "$TMP/garbage.csr" \
  --out "$TMP/x.crt" --passphrase-file "$TMP/pass"
check "intermediate init for another trust domain" \
  "$S" intermediate init --dir "$TMP/otherdom" --trust-domain other.org
check "signing its CSR warns that it names another trust domain" \
  output_has "warning: the CSR names" "$S" root sign-intermediate --dir "$R" \
  --csr "$TMP/otherdom/intermediate.csr" --out "$TMP/otherdom/intermediate.crt" \
  --passphrase-file "$TMP/pass"
check "...and the certificate is for the root's trust domain" \
  bash -c "openssl x509 -in '$TMP/otherdom/intermediate.crt' -noout -ext subjectAltName | grep -q 'URI:spiffe://$TD\$'"
check "a malformed --permit-dns exits 1, nothing written" \
  bash -c "'$S' root sign-intermediate --dir '$R' --csr '$I/intermediate.csr' --out '$TMP/x.crt' --permit-dns '*.x.org' --passphrase-file '$TMP/pass'; [ \$? -eq 1 ] && [ ! -e '$TMP/x.crt' ]"

# ---------------------------------------------------------------------------
section "provisioner init"
P=$TMP/prov
check "provisioner init" "$S" provisioner init --dir "$P" --name bootstrap
check "bootstrap.key is 0600" has_mode "$P/bootstrap.key" 600
check "bootstrap.pub is 0644" has_mode "$P/bootstrap.pub" 644
check "bootstrap.key is an EC P-256 PKCS#8 key" \
  bash -c "grep -q -- '-----BEGIN PRIVATE KEY-----' '$P/bootstrap.key' && openssl pkey -in '$P/bootstrap.key' -noout -text | grep -q 'NIST CURVE: P-256'"
check "bootstrap.pub is the public half of bootstrap.key" \
  bash -c "[ \"\$(openssl pkey -in '$P/bootstrap.key' -pubout)\" = \"\$(cat '$P/bootstrap.pub')\" ]"
check "a name with a slash is a usage error" \
  expect_exit 2 "$S" provisioner init --dir "$P" --name ../evil
check "a name longer than 64 bytes is a usage error" \
  expect_exit 2 "$S" provisioner init --dir "$P" --name "$(printf 'a%.0s' $(seq 65))"
mkdir -p "$TMP/shared-prov" "$TMP/shared-int"
chmod 775 "$TMP/shared-prov"
chmod 757 "$TMP/shared-int"
check "provisioner init into a group-writable --dir exits 1" \
  expect_exit 1 "$S" provisioner init --dir "$TMP/shared-prov" --name p2
check "...naming the directory and its mode" \
  output_has "has mode 0775" "$S" provisioner init --dir "$TMP/shared-prov" --name p2
check "intermediate init into an other-writable --dir exits 1" \
  expect_exit 1 "$S" intermediate init --dir "$TMP/shared-int" --trust-domain $TD
check "...and writes no key there" test ! -e "$TMP/shared-int/intermediate.key" -a ! -e "$TMP/shared-prov/p2.key"

# ---------------------------------------------------------------------------
section "no command overwrites anything"
snapshot "$TMP/ec-p256" >"$TMP/snap1"
check "root init again exits 1" \
  expect_exit 1 "$S" root init --dir "$R" --trust-domain $TD --passphrase-file "$TMP/pass"
check "...saying what exists" \
  output_has "already exists" "$S" root init --dir "$R" --trust-domain $TD --passphrase-file "$TMP/pass"
check "intermediate init again exits 1" \
  expect_exit 1 "$S" intermediate init --dir "$I" --trust-domain $TD
check "sign-intermediate onto an existing certificate exits 1" \
  expect_exit 1 "$S" root sign-intermediate --dir "$R" --csr "$I/intermediate.csr" \
  --out "$I/intermediate.crt" --passphrase-file "$TMP/pass"
check "sign-intermediate onto the root's own key exits 1" \
  expect_exit 1 "$S" root sign-intermediate --dir "$R" --csr "$I/intermediate.csr" \
  --out "$R/root.key" --passphrase-file "$TMP/pass"
check "nothing changed in the ceremony directories" same_snapshot "$TMP/ec-p256" "$TMP/snap1"
snapshot "$P" >"$TMP/snap2"
check "provisioner init again exits 1" \
  expect_exit 1 "$S" provisioner init --dir "$P" --name bootstrap
check "nothing changed in the provisioner directory" same_snapshot "$P" "$TMP/snap2"

mkdir -p "$TMP/half" "$TMP/halfi" "$TMP/halfp"
printf 'old\n' >"$TMP/half/root.crt"
printf 'old\n' >"$TMP/halfi/intermediate.csr"
ln -s "$TMP/nowhere" "$TMP/halfp/p.pub"
check "root init with only root.crt present exits 1 and writes no root.key" \
  bash -c "'$S' root init --dir '$TMP/half' --trust-domain $TD --passphrase-file '$TMP/pass'; [ \$? -eq 1 ] && [ ! -e '$TMP/half/root.key' ] && [ \"\$(cat '$TMP/half/root.crt')\" = old ]"
check "intermediate init with only the CSR present exits 1 and writes no key" \
  bash -c "'$S' intermediate init --dir '$TMP/halfi' --trust-domain $TD; [ \$? -eq 1 ] && [ ! -e '$TMP/halfi/intermediate.key' ]"
check "provisioner init with a dangling symlink at NAME.pub exits 1 and writes nothing" \
  bash -c "'$S' provisioner init --dir '$TMP/halfp' --name p; [ \$? -eq 1 ] && [ ! -e '$TMP/halfp/p.key' ] && [ ! -e '$TMP/nowhere' ]"

# ---------------------------------------------------------------------------
section "the root directory must be private to its holder"
# Whoever may write to --dir can swap root.crt or root.key under the offline
# key; every root command refuses such a directory before it reads anything.
D=$TMP/shared-root
mkdir "$D"
chmod 770 "$D"
check "root init into a group-writable directory exits 1 with one line" \
  stderr_one_line 1 "$S" root init --dir "$D" --trust-domain $TD --passphrase-file "$TMP/pass"
check "...naming the directory and its mode" grep -qF -- "--dir $D has mode 0770" "$TMP/stderr"
check "...and writing no key" absent "$D/root.key"
chmod 702 "$D"
check "root init into an other-writable directory exits 1, naming mode 0702" \
  bash -c "'$S' root init --dir '$D' --trust-domain $TD --passphrase-file '$TMP/pass' 2>&1 >/dev/null | grep -qF -- '--dir $D has mode 0702' && [ ! -e '$D/root.key' ]"
chmod 1777 "$D"
check "root init into a sticky world-writable directory (like /tmp) exits 1" \
  bash -c "'$S' root init --dir '$D' --trust-domain $TD --passphrase-file '$TMP/pass' 2>&1 >/dev/null | grep -qF -- 'has mode 1777' && [ ! -e '$D/root.key' ]"
mkdir -m 750 "$TMP/group-read"
check "root init into an existing directory of mode 0750 (group may read) succeeds" \
  "$S" root init --dir "$TMP/group-read" --trust-domain $TD --passphrase-file "$TMP/pass"
chmod 700 "$D"
check "root init into the directory made 0700 succeeds" \
  "$S" root init --dir "$D" --trust-domain $TD --passphrase-file "$TMP/pass"
check "root init creates each missing level of --dir 0700" \
  "$S" root init --dir "$TMP/new/a/b" --trust-domain $TD --passphrase-file "$TMP/pass"
check "...new is 0700" has_mode "$TMP/new" 700
check "...new/a is 0700" has_mode "$TMP/new/a" 700
check "...new/a/b is 0700" has_mode "$TMP/new/a/b" 700

chmod 770 "$D"
check "sign-intermediate with a group-writable --dir exits 1 with one line" \
  stderr_one_line 1 "$S" root sign-intermediate --dir "$D" --csr "$I/intermediate.csr" \
  --out "$TMP/loose.crt" --passphrase-file "$TMP/pass"
check "...naming the directory and its mode" grep -qF -- "--dir $D has mode 0770" "$TMP/stderr"
check "...and writing nothing" absent "$TMP/loose.crt"
chmod 700 "$D"
check "sign-intermediate works once the directory is 0700 again" \
  "$S" root sign-intermediate --dir "$D" --csr "$I/intermediate.csr" --out "$TMP/loose.crt" \
  --passphrase-file "$TMP/pass"

# A directory of another user: as root, a copy of the root given to nobody;
# otherwise / (root's).
F=
if [ "$(id -u)" -ne 0 ]; then
  F=/
elif cp -a "$D" "$TMP/foreign" && chown -R 65534 "$TMP/foreign"; then
  F=$TMP/foreign
fi
if [ -n "$F" ]; then
  check "sign-intermediate with a --dir owned by another user exits 1 with one line" \
    stderr_one_line 1 "$S" root sign-intermediate --dir "$F" --csr "$I/intermediate.csr" \
    --out "$TMP/foreign.crt" --passphrase-file "$TMP/pass"
  check "...saying who owns it" grep -qF -- "--dir $F is owned by uid $(stat -c %u "$F")" "$TMP/stderr"
  check "...and writing nothing" absent "$TMP/foreign.crt"
  check "root init into a --dir owned by another user exits 1" \
    bash -c "'$S' root init --dir '$F' --trust-domain $TD --passphrase-file '$TMP/pass' 2>&1 >/dev/null | grep -qF 'owned by uid'"
else
  echo "# skipped: no directory of another user to try (chown failed)"
fi
check "sign-intermediate with a --dir that is a file exits 1" \
  bash -c "'$S' root sign-intermediate --dir '$TMP/pass' --csr '$I/intermediate.csr' --out '$TMP/x.crt' --passphrase-file '$TMP/pass' 2>&1 >/dev/null | grep -qF 'is not a directory'"

# ---------------------------------------------------------------------------
section "usage errors exit 2 with one line on stderr"
check "signet with no command" expect_exit 2 "$S"
check "an unknown command" expect_exit 2 "$S" frobnicate
check "root with no subcommand" stderr_one_line 2 "$S" root
check "root with an unknown subcommand" stderr_one_line 2 "$S" root frobnicate
check "intermediate with no subcommand" stderr_one_line 2 "$S" intermediate
check "provisioner with no subcommand" stderr_one_line 2 "$S" provisioner
check "root init without --dir" stderr_one_line 2 "$S" root init --trust-domain $TD
check "root init with an empty --dir" stderr_one_line 2 "$S" root init --dir "" --trust-domain $TD
check "provisioner init with an empty --dir" stderr_one_line 2 "$S" provisioner init --dir= --name x
check "root init without --trust-domain" stderr_one_line 2 "$S" root init --dir "$TMP/u"
check "root init with an unknown flag" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD --frob
check "root init with --dir lacking its value" stderr_one_line 2 "$S" root init --trust-domain $TD --dir
check "root init with an unknown key type" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD --key-type dsa
check "root init with a malformed --ttl" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD --ttl 10x
check "root init with a negative --ttl" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD --ttl -5h
check "root init with an upper-case trust domain" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain Example.org
check "root init with a stray argument" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD extra
check "root init never takes a passphrase flag" \
  stderr_one_line 2 "$S" root init --dir "$TMP/u" --trust-domain $TD --password secret
check "sign-intermediate without --csr" \
  stderr_one_line 2 "$S" root sign-intermediate --dir "$R" --out "$TMP/u.crt"
check "sign-intermediate with a malformed --ttl" \
  stderr_one_line 2 "$S" root sign-intermediate --dir "$R" --csr "$I/intermediate.csr" \
  --out "$TMP/u.crt" --ttl 1y
check "intermediate init without --trust-domain" stderr_one_line 2 "$S" intermediate init --dir "$TMP/u"
check "provisioner init without --name" stderr_one_line 2 "$S" provisioner init --dir "$TMP/u"
check "usage errors created nothing" absent "$TMP/u"

# ---------------------------------------------------------------------------
section "--help exits 0 and prints to stdout"
for args in "--help" "root --help" "root init --help" "root sign-intermediate --help" \
  "intermediate --help" "intermediate init --help" "provisioner --help" \
  "provisioner init --help" "version --help"; do
  # shellcheck disable=SC2086
  check "signet $args" stdout_nonempty "$S" $args
done
check "sign-intermediate --help explains --permit-dns and name constraints" \
  output_has "permit-dns" "$S" root sign-intermediate --help
check "signet version" output_has "signet " "$S" version
