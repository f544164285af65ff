#!/usr/bin/env bash
# run.sh: installs deps, builds signet twice (normal, and ASan+UBSan), runs every
# test under both builds, then builds the server binary a third time with
# ThreadSanitizer for the server's tests, and exits 0 only if everything passed. Criterion's own summary lines
# are printed as they come; the last line sums everything up.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/deps.sh || { echo "run.sh: installing dependencies failed" >&2; exit 1; }

jobs=$(nproc)
logdir=$(mktemp -d /tmp/signet-tests.XXXXXX)
passed=0
failed=0
failures=()

record() { # name status
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAILED: $1 (log: $logdir)" >&2
  fi
}

build() { # dir target extra-cmake-args...
  local dir=$1 target=$2
  shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$logdir/cmake-$dir.log" 2>&1 &&
    cmake --build "$dir" -j"$jobs" --target "$target" >"$logdir/build-$dir.log" 2>&1
}

# A sanitizer report fails the run even when the test itself said it passed:
# Criterion 2.4.1 counts a test as passing when LeakSanitizer reports a leak.
sanitizer_clean() { # log
  ! grep -qE 'LeakSanitizer|AddressSanitizer|ThreadSanitizer|runtime error|UndefinedBehaviorSanitizer' "$1"
}

# run_logged NAME COMMAND...: runs COMMAND with its output in a log of its
# own, prints NAME with the log's summary (Criterion's Synthesis line, else
# the last line), shows the log's tail when it failed and records the result.
run_logged() {
  local name=$1 log="$logdir/${1// /-}.log" rc
  shift
  "$@" >"$log" 2>&1
  rc=$?
  sanitizer_clean "$log" || rc=1
  echo "$name: $(grep -E '^\[====\] Synthesis' "$log" || tail -n 1 "$log")"
  [ $rc -eq 0 ] || tail -n 40 "$log" >&2
  record "$name" $rc
}

run_suite() { # build-dir label
  local dir=$1 label=$2 t corpus
  export SIGNET_BIN="$top/$dir/signet" SIGNET_BUILD="$top/$dir"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    run_logged "$label $(basename "$t")" "$t" --jobs "$jobs"
  done
  for t in tests/integration/test_*.sh; do
    [ -f "$t" ] || continue
    run_logged "$label $(basename "$t")" bash "$t"
  done
  for t in "$dir"/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    corpus="tests/fuzz/corpus/$(basename "$t" | sed 's/^fuzz_//')"
    [ -d "$corpus" ] || corpus="tests/fuzz/corpus"
    run_logged "$label $(basename "$t")" "$t" "$corpus"
  done
}

if bash tests/lint.sh >"$logdir/lint.log" 2>&1; then record lint 0; else
  cat "$logdir/lint.log" >&2
  record lint 1
fi

if build build all; then
  run_suite build normal
else
  tail -n 40 "$logdir/build-build.log" "$logdir/cmake-build.log" >&2
  record "normal build" 1
fi
if build build-asan all -DSIGNET_SANITIZE=ON; then
  run_suite build-asan asan
else
  tail -n 40 "$logdir/build-build-asan.log" "$logdir/cmake-build-asan.log" >&2
  record "sanitizer build" 1
fi

# ThreadSanitizer: only the server binary, and only the tests that run it
# with its threads busy (signers, writer, CRL and OCSP publishers, MHD
# workers). A data race or a lock-order inversion fails the test: the report
# lands in the server's log, which serve_lib.sh checks, and TSan's exit code
# 66 fails the test's "exits 0" checks. Left out: test_faults_clock.sh
# (libfaketime interposes pthread_cond_timedwait, so TSan misses the unlock
# inside it and reports a false double lock) and test_faults_connections.sh
# (its RSS bound does not hold with TSan's shadow memory), plus the tests
# that run no server (docs, deploy, ceremony). setarch -R, where the
# machine allows it (a container's seccomp filter may not): TSan needs a
# memory layout that high mmap randomisation can break.
tsan_tests=(test_serve test_auth test_security test_crash test_flood test_malformed test_revoke
  test_ocsp test_crl test_rootcrl test_admin_cli test_agent test_faults_storage test_faults_crash
  test_tls_audit)
if build build-tsan signet_bin -DSIGNET_TSAN=ON -DSIGNET_TESTS=OFF; then
  norandom=()
  if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi
  for t in "${tsan_tests[@]}"; do
    run_logged "tsan $t.sh" env SIGNET_BIN="$top/build-tsan/signet" SIGNET_BUILD="$top/build-tsan" \
      TSAN_OPTIONS=halt_on_error=0 "${norandom[@]}" bash "tests/integration/$t.sh"
  done
else
  tail -n 40 "$logdir/build-build-tsan.log" "$logdir/cmake-build-tsan.log" >&2
  record "tsan build" 1
fi

# libFuzzer (clang, ASan+UBSan): every target for a bounded time; a longer run
# is `FUZZ_SECONDS=3600 tests/fuzz/run.sh` (tests/fuzz/README.md).
if FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tests/fuzz/run.sh >"$logdir/fuzz.log" 2>&1; then
  record libfuzzer 0
else
  tail -n 40 "$logdir/fuzz.log" >&2
  record libfuzzer 1
fi
grep -E '^fuzz_' "$logdir/fuzz.log" | sed 's/^/libfuzzer /'

if [ $failed -ne 0 ]; then
  printf 'failed: %s\n' "${failures[@]}" >&2
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
