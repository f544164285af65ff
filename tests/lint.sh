#!/usr/bin/env bash
# lint.sh: the banned-function check of STYLE.md section 6 and the clang-format
# check of section 10, over every C file we own.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find ca store api cmd tests -name '*.[ch]')

banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy|alloca)[[:space:]]*\('
if hits=$(echo "$files" | xargs grep -nE "$banned" /dev/null | grep -vE '(snprintf|vsnprintf)[[:space:]]*\(' ); then
  echo "lint: banned functions:"; echo "$hits"; status=1
fi
if ! echo "$files" | xargs clang-format --dry-run --Werror 2>lint-format.log; then
  echo "lint: clang-format differences (run: clang-format -i <file>):"
  grep -E '^[^ ].*: (error|warning)' lint-format.log | cut -d: -f1 | sort -u
  status=1
fi
rm -f lint-format.log
[ $status -eq 0 ] && echo "lint: ok"
exit $status
