#!/usr/bin/env bash
# Runs no_leaks.py on libkeel, after showing that it does catch a leak: a tiny library whose
# baseline-namespace function is compiled for AVX2 must be refused.
# usage: no_leaks_test.sh LIBKEEL.so C++-COMPILER
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lib="$1" cxx="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/leak.cpp" <<'CPP'
namespace keel::cpu::avx512 { void fine(float* x) { for (int i = 0; i < 64; ++i) x[i] *= 2.0f; } }
namespace keel::cpu::avx2 { void fine(float* x) { for (int i = 0; i < 64; ++i) x[i] *= 2.0f; } }
namespace keel { void leaked(float* x) { for (int i = 0; i < 64; ++i) x[i] *= 3.0f; } }
CPP
"$cxx" -O2 -mavx512f -mprefer-vector-width=512 -shared -fPIC "$tmp/leak.cpp" -o "$tmp/libleak.so"
if python3 "$here/no_leaks.py" "$tmp/libleak.so" > "$tmp/out.txt" 2>&1; then
    echo "no_leaks.py accepted a library with a leaked AVX-512 function:"; cat "$tmp/out.txt"; exit 1
fi
grep -q "keel::leaked" "$tmp/out.txt" || { echo "the leak was not named:"; cat "$tmp/out.txt"; exit 1; }
python3 "$here/no_leaks.py" "$lib"
