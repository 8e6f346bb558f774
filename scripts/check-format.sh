#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format (Debian 12's, version 14) makes
# of it with the checked-in .clang-format. Mend with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed (apt-get install clang-format)" >&2; exit 2; }
bad=()
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done < <(git ls-files '*.cpp' '*.hpp')
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} file(s) not formatted with .clang-format:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "mend: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i" >&2
  exit 1
fi
echo "check-format: OK ($(git ls-files '*.cpp' '*.hpp' | wc -l) files)"
