#!/usr/bin/env bash
# Checks that every C++/CUDA line changed since the format base follows .clang-format: the base is
# the ref given as $1, else the commit named in .format-base (from where formatting is enforced, so
# older lines are not reformatted wholesale). Uncommitted changes count too.
# Exit 0: formatted; 1: prints the diff clang-format wants; 77: cannot check here (no clang-format,
# or the base is not in this clone, e.g. a shallow one), with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "check-format.sh: skipped: $*" >&2; exit 77; }

git_clang_format=""
for candidate in git-clang-format-14 git-clang-format; do
    if command -v "$candidate" >/dev/null; then git_clang_format=$candidate; break; fi
done
[[ -n "$git_clang_format" ]] || skip "git-clang-format not found (Debian package clang-format)"
binary=clang-format
command -v clang-format-14 >/dev/null && binary=clang-format-14
git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"

base=${1:-$(sed -n '/^[0-9a-f]\{7,40\}$/p' .format-base | head -n 1)}
[[ -n "$base" ]] || { echo "check-format.sh: .format-base names no commit" >&2; exit 2; }
git cat-file -e "$base^{commit}" 2>/dev/null || skip "base commit $base is not in this clone"

out=$("$git_clang_format" --binary "$binary" --style file --diff \
      --extensions cpp,h,cc,hpp,cu,cuh,inc "$base" -- engine apps tests benchmarks examples)
if [[ "$out" == diff* ]]; then
    echo "$out"
    echo "check-format.sh: the lines above, changed since $base, do not follow .clang-format." >&2
    echo "Fix them with: $git_clang_format --binary $binary --style file $base" >&2
    exit 1
fi
echo "check-format.sh: every C++/CUDA line changed since $base follows .clang-format"
