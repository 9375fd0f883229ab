#!/usr/bin/env bash
# check_format.sh: every C and C++ file of the repository as .clang-format (clang-format 14,
# Debian's) writes it. Prints the files that differ and fails; `tools/check_format.sh --fix`
# rewrites them. Run from anywhere; the ctest `check_format`.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$cf" ] || { echo "check_format: clang-format not installed"; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || find . -name '*.[ch]' -o -name '*.cpp')
if [ "${1:-}" = "--fix" ]; then
    "$cf" -i "${files[@]}"
    exit 0
fi
bad=()
for f in "${files[@]}"; do
    "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
    printf 'check_format: %s differs from .clang-format\n' "${bad[@]}"
    echo "check_format: ${#bad[@]} of ${#files[@]} files; tools/check_format.sh --fix rewrites them"
    exit 1
fi
echo "check_format: OK (${#files[@]} files)"
