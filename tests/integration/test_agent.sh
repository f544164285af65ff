#!/usr/bin/env bash
# test_agent.sh: `signet agent` against a real `signet serve` on loopback:
# --once with a provisioner token, refusals (unreachable, untrusted, used
# token), reuse of an SVID left in --out, a live agent with 1-minute SVIDs that
# renews over mTLS on time though its wall clock steps 50 s back (libfaketime)
# while a reader loop checks that svid.key and svid.pem always match, recovery
# after the server is stopped and started again, crl.pem, and a clean exit 0
# on SIGTERM, and an SVID that could not be written to a full --out published
# once there is room, without asking again. About 90 s, most of it waiting
# for renewals.
. "$(dirname "$0")/serve_lib.sh"
cd "$T_DIR" || exit 1

AGENT_PID=""
READER_PID=""
# t_exit_clients stops the agent and the reader, fails on a sanitizer report
# in an agent's log, then runs serve_lib.sh's exit.
# On exit: stop the agent before unmounting the full tmpfs under it.
agent_exit() {
  local rc=$?
  [ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
  if mountpoint -q "$T_DIR/full" 2>/dev/null; then
    umount "$T_DIR/full" 2>/dev/null || umount -l "$T_DIR/full"
  fi
  (exit "$rc")
  t_exit_clients $READER_PID $AGENT_PID
}
trap agent_exit EXIT

agent() { "$SIGNET_BIN" agent --server "$HTTPS_URL" --ca pki/root.crt "$@"; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s; fails after SECONDS.
wait_for() {
  local n=$(($1 * 5))
  shift
  for _ in $(seq 1 "$n"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# pair_matches DIR: the public keys of DIR/svid.key and DIR/svid.pem are equal.
pair_matches() {
  local k c
  k=$(openssl pkey -in "$1/svid.key" -pubout 2>/dev/null) || return 1
  c=$(openssl x509 -in "$1/svid.pem" -noout -pubkey 2>/dev/null) || return 1
  [ -n "$k" ] && [ "$k" = "$c" ]
}

serial_of() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }

# json_lines FILE: every line of FILE is a JSON object with ts, level and msg.
json_lines() {
  python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    d = json.loads(l)
    assert {"ts", "level", "msg"} <= d.keys(), l
PY
}

check "dev PKI is made" make_pki
write_config
check "server starts and becomes ready" start_server

# ---- Usage ----
"$SIGNET_BIN" agent --help >help.out 2>&1
expect_eq "agent --help exits 0" "$?" 0
check "agent --help describes --token-file" grep -q -- '--token-file' help.out
agent --token-file x >/dev/null 2>&1
expect_eq "agent without --out is a usage error (exit 2)" "$?" 2
agent --token-file x --out o --key-type dsa >/dev/null 2>&1
expect_eq "agent with an unknown --key-type is a usage error (exit 2)" "$?" 2
"$SIGNET_BIN" agent --server "$HTTP_URL" --ca pki/root.crt --token-file x --out o >/dev/null 2>&1
expect_eq "agent with an http:// server is a usage error (exit 2)" "$?" 2

# ---- --once with a provisioner token ----
prov_token spiffe://example.org/app/web >token1
agent --token-file token1 --out once --once 2>once.log
expect_eq "agent --once with a provisioner token exits 0" "$?" 0
check "svid.pem, svid.key and bundle.pem are written" test -s once/svid.pem -a -s once/svid.key -a -s once/bundle.pem
expect_eq "svid.key is mode 0600" "$(stat -L -c %a once/svid.key)" 600
check "svid.key matches svid.pem" pair_matches once
check "svid.pem verifies against bundle.pem with its chain" \
  openssl verify -CAfile once/bundle.pem -untrusted once/svid.pem once/svid.pem
check "svid.pem is the SVID of the token's SPIFFE ID" \
  sh -c 'openssl x509 -in once/svid.pem -noout -ext subjectAltName | grep -q "URI:spiffe://example.org/app/web"'
check "bundle.pem is the root" cmp once/bundle.pem pki/root.crt
check "svid.key is PKCS#8" grep -q 'BEGIN PRIVATE KEY' once/svid.key
check "the agent logs JSON lines" json_lines once.log
check "the log names the SPIFFE ID and serial" grep -q '"spiffe_id":"spiffe://example.org/app/web","serial"' once.log
check "the token never reaches the log" sh -c "! grep -qF '$(cut -c1-40 token1)' once.log"
check "the key never reaches the log" sh -c "! grep -q 'PRIVATE KEY' once.log"

# ---- Reuse of the SVID in --out, and refusals ----
agent --token-file token1 --out once --once 2>once2.log
expect_eq "a second --once with the used token exits 0" "$?" 0
check "... because it renews the SVID found in --out over mTLS" grep -q '"msg":"SVID renewed"' once2.log
agent --token-file token1 --out fresh --once 2>fresh.log
expect_eq "--once with a used token and no SVID exits 1" "$?" 1
check "... and logs the server's refusal" grep -q 'unauthenticated' fresh.log
read -r DEAD_PORT <<<"$(free_ports 1)"
"$SIGNET_BIN" agent --server "https://127.0.0.1:$DEAD_PORT" --ca pki/root.crt --token-file token1 \
  --out dead --once 2>dead.log
expect_eq "--once with an unreachable server exits 1" "$?" 1
check "... saying it cannot connect" grep -q 'cannot connect to https://127.0.0.1' dead.log
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
  -subj /CN=other -days 1 -out other.crt 2>/dev/null
prov_token spiffe://example.org/app/web >token2
"$SIGNET_BIN" agent --server "$HTTPS_URL" --ca other.crt --token-file token2 --out untrusted \
  --once 2>untrusted.log
expect_eq "--once with a server not trusted by --ca exits 1" "$?" 1
check "... saying the certificate is not trusted" grep -q 'server certificate not trusted by --ca other.crt' untrusted.log

# ---- A live agent: renewal over mTLS, readers never see a mismatched pair ----
# It runs under libfaketime, and its wall clock steps 50 s back once it holds
# its first SVID: the renewal must still come at renew_after, not 50 s later.
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ -z "$FAKETIME_LIB" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null 2>&1
  FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
fi
check "libfaketime (package faketime) is installed" test -n "$FAKETIME_LIB"
echo "+0" >agent-clock.txt
env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$T_DIR/agent-clock.txt" \
  FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
  "$SIGNET_BIN" agent --server "$HTTPS_URL" --ca pki/root.crt --token-file token2 --out live \
  --ttl 1m --crl-refresh 5s 2>live.log &
AGENT_PID=$!
check "the live agent writes an SVID" wait_for 15 test -s live/svid.pem
SERIAL1=$(serial_of live/svid.pem)
echo "-50" >agent-clock.txt
# The reader resolves `current` once per round, as a proxy watching it does,
# and also reads the fixed paths, which must always be whole files.
(
  while [ ! -e reader.stop ]; do
    d=live/$(readlink live/current)
    if pair_matches "$d"; then echo ok >>reader.log; else echo "MISMATCH $d" >>reader.log; fi
    openssl pkey -in live/svid.key -noout 2>/dev/null || echo "PARTIAL svid.key" >>reader.log
    openssl x509 -in live/svid.pem -noout 2>/dev/null || echo "PARTIAL svid.pem" >>reader.log
  done
) &
READER_PID=$!
renewed() { [ "$(serial_of live/svid.pem)" != "$SERIAL1" ]; }
check "the agent renews a 1-minute SVID at renew_after (about 30 s), its clock 50 s back" \
  wait_for 50 renewed
check "... over mTLS (the provisioner token is one-time)" grep -q '"msg":"SVID renewed"' live.log
check "the renewed SVID verifies against bundle.pem" \
  openssl verify -CAfile live/bundle.pem -untrusted live/svid.pem live/svid.pem
SERIAL2=$(serial_of live/svid.pem)

# ---- Recovery: the server goes away while a renewal is due ----
stop_server TERM
check "with the server down, the renewal fails and the agent backs off" \
  wait_for 45 grep -q '"msg":"renewal failed"' live.log
check "the server starts again" start_server
recovered() { s=$(serial_of live/svid.pem) && [ "$s" != "$SERIAL2" ] && [ "$s" != "$SERIAL1" ]; }
check "the agent recovers and renews once the server is back" wait_for 20 recovered
touch reader.stop
wait "$READER_PID"
READER_PID=""
reads=$(grep -c '^ok' reader.log)
check "a reader looping over the renewals read key and certificate ($reads times)" test "$reads" -gt 10
check "... and never saw a mismatched pair or a partial file" sh -c '! grep -q "MISMATCH\|PARTIAL" reader.log'

# ---- crl.pem ----
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/v1/crls.pem")" = 200 ]; then
  check "crl.pem holds the server's CRLs" wait_for 10 sh -c 'openssl crl -in live/crl.pem -noout'
else
  check "without /v1/crls.pem on the server, the agent warns and keeps going" \
    grep -q 'no /v1/crls.pem' live.log
fi

# ---- SIGTERM ----
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
expect_eq "SIGTERM stops the agent with exit 0" "$?" 0
AGENT_PID=""
check "it logged that it stopped" grep -q '"msg":"stopping"' live.log
check "no temporary file is left in --out" sh -c '! ls -A live | grep -q tmp'
expect_eq "at most two generations are kept" "$(ls -A live | grep -c '^\.svid\.')" 2
expect_eq "svid.key is still mode 0600" "$(stat -L -c %a live/svid.key)" 600
check "the agent's log is JSON lines" json_lines live.log
check "the token never reaches the log" sh -c "! grep -qF '$(cut -c1-40 token2)' live.log"

# ---- A full --out: the SVID got with a one-time token is kept, not lost ----
# --out is a 256 KiB tmpfs filled up, so the first SVID cannot be written.
# The token is spent by then: the agent must publish the SVID it holds once
# there is room, not ask again (which would be refused, 401).
mkdir -p full
if mount -t tmpfs -o size=256k tmpfs full 2>mount.err; then
  t_ok "a 256 KiB tmpfs is mounted for --out"
  dd if=/dev/zero of=full/filler bs=4k >/dev/null 2>&1 # ENOSPC once full
  prov_token spiffe://example.org/app/full >token3
  "$SIGNET_BIN" agent --server "$HTTPS_URL" --ca pki/root.crt --token-file token3 --out full \
    2>full.log &
  AGENT_PID=$!
  check "the agent cannot write its first SVID to the full --out" \
    wait_for 15 grep -q 'No space left on device' full.log
  rm -f full/filler
  check "once there is room, it publishes an SVID" wait_for 20 test -s full/svid.pem
  check "... the one it already had, not a new one" \
    grep -q '"msg":"SVID published after a failed write"' full.log
  check "... with the key that goes with it" pair_matches full
  check "the spent token was not presented again" sh -c '! grep -q unauthenticated full.log'
  kill -TERM "$AGENT_PID" && wait "$AGENT_PID"
  AGENT_PID=""
  umount full 2>/dev/null || umount -l full
else
  t_fail "mount a 256 KiB tmpfs (mount not permitted here?)" "$(cat mount.err)"
fi
finish
