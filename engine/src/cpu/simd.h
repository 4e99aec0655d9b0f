// <immintrin.h> for keel's x86 SIMD CPU kernels (AVX-512 and AVX2 variants of one source file; see
// isa.h). GCC 12 reports the deliberately undefined pass-through operand inside its own AVX-512
// intrinsics (`_mm512_undefined_ps()` and friends, behind extracts, permutes, narrowing and
// inserts) as "(may be) used uninitialized" wherever they are inlined; the diagnostic is keyed to
// the header's lines, so ignoring it around the include silences only that false positive, not
// the same warning in keel's own code.
#pragma once

#if defined(__AVX2__) || defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
