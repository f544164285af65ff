# shellcheck shell=bash
# lib.sh: a tiny test library for tests/integration/test_*.sh. Source it:
#
#   . "$(dirname "$0")/lib.sh"
#   check "root init writes root.key" "$SIGNET_BIN" root init --dir "$TMP/pki" ...
#   check "a usage error exits 2" expect_exit 2 "$SIGNET_BIN" root init
#   check "output names the file" grep -q root.key "$TMP/out"
#
# check DESCRIPTION COMMAND... runs COMMAND (a function is fine, for pipes),
# counts a pass when it exits 0 and a failure otherwise, showing the command and
# the tail of its output. A check whose output holds a sanitizer report fails
# too, so helpers should let their commands' output through rather than pipe it
# away. expect_exit CODE COMMAND... succeeds when COMMAND exits with exactly
# CODE. $TMP is a fresh directory, removed on exit. On exit the last line
# printed is exactly "N passed, M failed", and the status is 1 if M > 0 (a
# script that stops early on its own counts as one more failure).

set -u

LIB_PASSED=0
LIB_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/signet-it.XXXXXX") || {
  echo "lib.sh: cannot make a temporary directory" >&2
  exit 1
}
LIB_OUT="$TMP/.check-output"
LIB_SANITIZER='LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error'

# The signet binary: tests/run.sh sets SIGNET_BIN; by hand it defaults to build/.
: "${SIGNET_BIN:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/signet}"
export SIGNET_BIN

lib_finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$LIB_FAILED" -eq 0 ]; then
    echo "FAIL - the script stopped early with status $rc"
    LIB_FAILED=$((LIB_FAILED + 1))
  fi
  rm -rf "$TMP"
  echo "$LIB_PASSED passed, $LIB_FAILED failed"
  if [ "$LIB_FAILED" -ne 0 ]; then
    exit 1
  fi
  exit 0
}
trap lib_finish EXIT

check() {
  local desc=$1
  shift
  # A sanitizer report fails the check even when the command did what was
  # expected (a leak on an error path still exits with the expected code).
  if "$@" >"$LIB_OUT" 2>&1 && ! grep -qE "$LIB_SANITIZER" "$LIB_OUT"; then
    LIB_PASSED=$((LIB_PASSED + 1))
    echo "ok - $desc"
  else
    LIB_FAILED=$((LIB_FAILED + 1))
    echo "FAIL - $desc"
    echo "  command: $*"
    tail -n 20 "$LIB_OUT" | sed 's/^/  | /'
  fi
}

expect_exit() {
  local want=$1
  shift
  "$@"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "expected exit status $want, got $got" >&2
    return 1
  fi
  return 0
}

# section prints a heading between groups of checks.
section() {
  echo "# $*"
}
