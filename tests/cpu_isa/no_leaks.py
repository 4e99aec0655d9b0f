#!/usr/bin/env python3
"""Checks that libkeel runs on any x86-64: no code outside a kernel variant uses a vector
instruction set wider than the baseline's.

The AVX2 and AVX-512 kernel variants are compiled with their own flags into keel::cpu::avx2 and
keel::cpu::avx512. An inline function or template that their objects define out of line could be
picked by the linker for callers in baseline code, which would then die with "illegal
instruction" on an older CPU. This disassembles the library and fails, naming the functions,
when a function that uses ymm registers (AVX/AVX2) or zmm/mask registers (AVX-512) is not part of
a variant that may use them. usage: no_leaks.py LIBKEEL.so
"""
import re
import subprocess
import sys

YMM = re.compile(r"%ymm\d+")
ZMM = re.compile(r"%zmm\d+|%k[1-7]\b")
HEADER = re.compile(r"^[0-9a-f]+ <(.+)>:$")


def functions(library):
    """(demangled name, disassembly lines) for every function in the library's text."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", library],
                         capture_output=True, text=True, check=True).stdout
    name, body = None, []
    for line in out.splitlines():
        match = HEADER.match(line)
        if match:
            if name:
                yield name, body
            name, body = match.group(1), []
        elif name:
            body.append(line)
    if name:
        yield name, body


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    leaks, counted = [], {"avx2": 0, "avx512": 0}
    for name, body in functions(sys.argv[1]):
        text = "\n".join(body)
        uses_zmm, uses_ymm = bool(ZMM.search(text)), bool(YMM.search(text))
        in_avx512 = "keel::cpu::avx512" in name
        in_avx2 = "keel::cpu::avx2" in name
        if uses_zmm and not in_avx512:
            leaks.append(f"AVX-512 registers in {name}")
        elif uses_ymm and not (in_avx2 or in_avx512):
            leaks.append(f"AVX registers in {name}")
        counted["avx512"] += uses_zmm and in_avx512
        counted["avx2"] += uses_ymm and in_avx2
    if leaks:
        print(f"{len(leaks)} function(s) outside the kernel variants use wider vectors than the "
              "baseline (they would fault on an older CPU):")
        print("\n".join(f"  {leak}" for leak in leaks[:40]))
        sys.exit(1)
    # The check is only meaningful if the variants are there and were recognised.
    if counted["avx512"] == 0 or counted["avx2"] == 0:
        sys.exit(f"no AVX2 ({counted['avx2']}) or AVX-512 ({counted['avx512']}) kernel functions "
                 "found: was the library built with the kernel variants?")
    print(f"ok: {counted['avx512']} AVX-512 and {counted['avx2']} AVX2 functions, all inside their "
          "variants")


if __name__ == "__main__":
    main()
