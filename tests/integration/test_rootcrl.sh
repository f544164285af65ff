#!/usr/bin/env bash
# test_rootcrl.sh: `signet root crl` end to end. A root and an intermediate
# made by the real ceremony commands; the root's CRL checked with `openssl crl`
# and `openssl verify -crl_check`; refusals and exit codes (0, 1, 2).
. "$(dirname "$0")/lib.sh"

# next_minus_last CRL: seconds from thisUpdate to nextUpdate.
next_minus_last() {
  local last next
  last=$(openssl crl -in "$1" -noout -lastupdate | cut -d= -f2)
  next=$(openssl crl -in "$1" -noout -nextupdate | cut -d= -f2)
  echo $(($(date -d "$next" +%s) - $(date -d "$last" +%s)))
}

cd "$TMP" || exit 1
printf 'correct horse battery staple\n' >pass
printf 'wrong\n' >wrong
S="$SIGNET_BIN"

check "root init makes the root" "$S" root init --dir pki --trust-domain example.org --passphrase-file pass
check "intermediate init makes its key and CSR" "$S" intermediate init --dir ipki --trust-domain example.org
check "root sign-intermediate signs it" "$S" root sign-intermediate --dir pki --csr ipki/intermediate.csr \
  --out ipki/intermediate.crt --passphrase-file pass
serial=$(openssl x509 -in ipki/intermediate.crt -noout -serial | cut -d= -f2)

check "root crl --help exits 0 and shows the usage" sh -c "'$S' root crl --help | grep -q 'usage: signet root crl'"

section "A CRL with no entry"
check "root crl with no --revoke exits 0" "$S" root crl --dir pki --out empty.crl --passphrase-file pass
check "the empty CRL verifies with openssl crl -CAfile root.crt" \
  sh -c "openssl crl -in empty.crl -CAfile pki/root.crt -noout 2>&1 | grep -q 'verify OK'"
check "the empty CRL lists no certificate" \
  sh -c "openssl crl -in empty.crl -noout -text | grep -q 'No Revoked Certificates'"
check "the intermediate passes openssl verify -crl_check with the empty CRL" \
  openssl verify -crl_check -CRLfile empty.crl -CAfile pki/root.crt ipki/intermediate.crt
check "the CRL lasts 720h by default" test "$(next_minus_last empty.crl)" -eq $((720 * 3600))
crl_num() { openssl crl -in "$1" -noout -crlnumber | sed 's/^crlNumber=0x//'; }
crl_last() { date -d "$(openssl crl -in "$1" -noout -lastupdate | cut -d= -f2)" +%s; }
before=$(date +%s)
"$S" root crl --dir pki --out first.crl --passphrase-file pass >/dev/null &&
  "$S" root crl --dir pki --out second.crl --passphrase-file pass >/dev/null
after=$(date +%s)
check "two CRLs signed back to back have increasing CRL numbers" \
  python3 -c "import sys; a, b = (int(x, 16) for x in sys.argv[1:]); assert a < b, (a, b)" \
  "$(crl_num first.crl)" "$(crl_num second.crl)"
check "thisUpdate is the signing time less 60 s" \
  test "$(crl_last first.crl)" -ge $((before - 60)) -a "$(crl_last first.crl)" -le $((after - 60))
check "openssl verify -crl_check accepts a fresh CRL at a time 5 s earlier" \
  openssl verify -crl_check -attime $((before - 5)) -CRLfile first.crl -CAfile pki/root.crt \
  ipki/intermediate.crt

section "Revoking the intermediate"
check "root crl --revoke <intermediate serial> exits 0" \
  "$S" root crl --dir pki --out root.crl --revoke "$serial:cACompromise" --ttl 48h --passphrase-file pass
check "the CRL verifies with openssl crl -CAfile root.crt" \
  sh -c "openssl crl -in root.crl -CAfile pki/root.crt -noout 2>&1 | grep -q 'verify OK'"
check "the CRL lists the intermediate's serial" \
  sh -c "openssl crl -in root.crl -noout -text | grep -q 'Serial Number: $serial'"
check "the entry carries the reason cACompromise" \
  sh -c "openssl crl -in root.crl -noout -text | grep -q 'CA Compromise'"
check "the CRL is a version 2 CRL with a CRL number and the root's AKID" \
  sh -c "openssl crl -in root.crl -noout -text | grep -q 'Version 2' &&
         openssl crl -in root.crl -noout -text | grep -q 'X509v3 CRL Number' &&
         openssl crl -in root.crl -noout -text | grep -q 'Authority Key Identifier'"
check "--ttl 48h sets nextUpdate 48h after thisUpdate" test "$(next_minus_last root.crl)" -eq $((48 * 3600))
check "openssl verify -crl_check refuses the revoked intermediate" \
  sh -c "! openssl verify -crl_check -CRLfile root.crl -CAfile pki/root.crt ipki/intermediate.crt >out 2>&1 &&
         grep -q 'certificate revoked' out"
check "a lower-case serial names the same certificate" \
  "$S" root crl --dir pki --out lower.crl --revoke "$(echo "$serial" | tr 'A-F' 'a-f')" --passphrase-file pass
check "... and openssl verify -crl_check refuses it too" \
  expect_exit 2 openssl verify -crl_check -CRLfile lower.crl -CAfile pki/root.crt ipki/intermediate.crt

section "Failures exit 1 and leave files alone"
cp root.crl root.crl.orig
check "an existing --out is never overwritten (exit 1)" \
  expect_exit 1 "$S" root crl --dir pki --out root.crl --passphrase-file pass
check "... and it is left as it was" cmp root.crl root.crl.orig
check "a wrong passphrase exits 1" \
  expect_exit 1 "$S" root crl --dir pki --out bad.crl --passphrase-file wrong
check "... and writes nothing" test ! -e bad.crl
check "a --dir without a root exits 1" \
  expect_exit 1 "$S" root crl --dir nowhere --out none.crl --passphrase-file pass
chmod 770 pki
"$S" root crl --dir pki --out loose.crl --passphrase-file pass >/dev/null 2>loose.err
check "a group-writable --dir exits 1 (another user could swap root.crt or root.key)" \
  test $? -eq 1
check "... with one line naming the directory and its mode" \
  sh -c "[ \$(wc -l <loose.err) -eq 1 ] && grep -qF -- '--dir pki has mode 0770' loose.err"
check "... and writes nothing" test ! -e loose.crl
chmod 706 pki
check "an other-writable --dir exits 1, writing nothing" \
  sh -c "'$S' root crl --dir pki --out loose2.crl --passphrase-file pass; [ \$? -eq 1 ] && [ ! -e loose2.crl ]"
chmod 700 pki
check "with --dir 0700 again, root crl works" \
  "$S" root crl --dir pki --out private.crl --passphrase-file pass

section "Usage errors exit 2"
check "no --out is a usage error (exit 2)" expect_exit 2 "$S" root crl --dir pki --passphrase-file pass
check "no --dir is a usage error (exit 2)" expect_exit 2 "$S" root crl --out x.crl --passphrase-file pass
check "a serial that is not hex is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --revoke 12:34 --passphrase-file pass
check "a zero serial is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --revoke 00 --passphrase-file pass
check "an unknown reason is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --revoke "$serial:stolen" --passphrase-file pass
check "a serial given twice is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --revoke "$serial" --revoke "0$serial" --passphrase-file pass
check "a bad --ttl is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --ttl 30x --passphrase-file pass
check "an unknown option is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl --frobnicate --passphrase-file pass
check "a stray argument is a usage error (exit 2)" \
  expect_exit 2 "$S" root crl --dir pki --out x.crl stray --passphrase-file pass
check "... and no usage error wrote anything" test ! -e x.crl

