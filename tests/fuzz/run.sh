#!/usr/bin/env bash
# run.sh: builds every tests/fuzz/fuzz_<name>.c as a libFuzzer fuzzer (clang,
# ASan+UBSan, -DSIGNET_FUZZ=ON) in build-fuzz/ and runs each for FUZZ_SECONDS
# (default 30) over a temporary copy of tests/fuzz/corpus/<name>/, with
# tests/fuzz/<name>.dict when it exists. Exits non-zero if any target crashed,
# leaked, timed out, ran out of memory or printed a sanitizer report.
#
#   tests/fuzz/run.sh                          # every target, 30 s each
#   FUZZ_SECONDS=3600 tests/fuzz/run.sh jwt    # one target for an hour
#
# Targets may be named "jwt" or "fuzz_jwt". FUZZ_BUILD overrides the build
# directory, FUZZ_KEEP=1 keeps the temporary corpora (new inputs) afterwards.
# Failing inputs are copied to $FUZZ_BUILD/artifacts/<name>/.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2

seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD:-build-fuzz}
case $seconds in '' | *[!0-9]*)
  echo "run.sh: FUZZ_SECONDS must be a whole number of seconds" >&2
  exit 2
  ;;
esac

rt_lib() { clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null; }
if ! command -v clang >/dev/null || [ ! -f "$(rt_lib)" ]; then
  echo "run.sh: installing clang and libclang-rt-14-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y --no-install-recommends clang libclang-rt-14-dev; } \
    >/dev/null || { echo "run.sh: could not install clang" >&2; exit 2; }
fi

targets=()
if [ $# -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    [ -f "$src" ] && targets+=("$(basename "$src" .c)")
  done
else
  for t in "$@"; do
    t=fuzz_${t#fuzz_}
    [ -f "tests/fuzz/$t.c" ] || { echo "run.sh: no tests/fuzz/$t.c" >&2; exit 2; }
    targets+=("$t")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "run.sh: no fuzz targets" >&2; exit 2; }

logdir=$(mktemp -d /tmp/signet-fuzz.XXXXXX)
if ! CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSIGNET_FUZZ=ON \
  >"$logdir/cmake.log" 2>&1; then
  tail -40 "$logdir/cmake.log" >&2
  echo "0 passed, ${#targets[@]} failed"
  exit 1
fi
if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$logdir/build.log" 2>&1; then
  grep -E 'error|warning' "$logdir/build.log" | head -40 >&2
  tail -20 "$logdir/build.log" >&2
  echo "0 passed, ${#targets[@]} failed (build failed, log: $logdir/build.log)"
  exit 1
fi

# LeakSanitizer stays on (libFuzzer reports a leak as a failure); UBSan aborts
# on the first report (-fno-sanitize-recover=all) and prints its stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failures=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  work="$logdir/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    find "tests/fuzz/corpus/$name" -maxdepth 1 -type f ! -name '.*' -exec cp -t "$work/corpus" {} +
  fi
  seeds=$(find "$work/corpus" -type f | wc -l)
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    -artifact_prefix="$work/artifacts/")
  [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
  log="$work/log"
  # The outer timeout only catches a fuzzer that ignores -max_total_time.
  timeout -s KILL $((seconds + 300)) "$build/fuzz/$t" "${args[@]}" "$work/corpus" >"$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  now=$(find "$work/corpus" -type f | wc -l)
  result=ok
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ] ||
    grep -qE 'LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|ERROR: libFuzzer' "$log"; then
    result="FAILED (exit $rc)"
  fi
  printf '%s: %s execs, %s, corpus %d -> %d (+%d), %s\n' "$t" "${execs:-?}" "${cov:-cov: ?}" \
    "$seeds" "$now" $((now - seeds)) "$result"
  if [ "$result" = ok ]; then
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  failures+=("$t")
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|ALARM|==[0-9]+== ERROR: libFuzzer)' "$log" | head -5 >&2
  grep -E '^ +#[0-9]+ ' "$log" | grep -v ' in fuzzer::' | head -6 >&2
  mkdir -p "$build/artifacts/$name"
  for a in "$work/artifacts"/*; do
    [ -f "$a" ] || continue
    cp "$a" "$build/artifacts/$name/"
    a="$top/$build/artifacts/$name/$(basename "$a")"
    echo "  input: $a" >&2
    echo "  reproduce: $top/$build/fuzz/$t $a" >&2
  done
  echo "  log: $log" >&2
done

if [ $failed -eq 0 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then
  rm -rf "$logdir"
elif [ "${FUZZ_KEEP:-0}" = 1 ]; then
  echo "new corpora kept in $logdir/<name>/corpus" >&2
fi
[ $failed -eq 0 ] || printf 'failed: %s\n' "${failures[@]}" >&2
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
