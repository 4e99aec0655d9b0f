// The packing half of the CPU convolution (see conv_packing.h): im2col into the packed B layout,
// the NHWC transposes, the weight and output-gradient packing, and the write-back.
#include "cpu/conv_packing.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "cpu/parallel.h"

namespace keel::cpu::KEEL_CPU_ISA::conv {

using gemm::kMr;
using gemm::kNr;
using gemm::panels;

// ---- im2col into the packed B layout
// --------------------------------------------------------------

// B (depth × cols) for columns [col0, col0 + cols), in gemm's panel layout (zero past `cols`).
#if defined(__AVX512F__)
// Sixteen columns at a time: for each (r, s) one bounds mask, so padding comes for free as
// masked-off lanes. With stride 1 and an output as wide as its source (the "same" 3×3 convolutions
// of both CNNs, and their input gradients), consecutive output pixels of one image read
// consecutive source addresses for every (c, r, s): one masked unaligned load per image in the
// group replaces a 16-address gather, which costs several times more. Other windows gather.
void im2col_packed(const float* src, const Window& g, int64_t col0, int64_t cols, float* packed) {
  const int64_t depth = g.depth(), plane = g.h * g.w, pixels = g.pixels();
  const bool contiguous = g.stride == 1 && g.ow == g.w;
  const __m512i height = _mm512_set1_epi32(static_cast<int>(g.h));
  const __m512i width = _mm512_set1_epi32(static_cast<int>(g.w));
  const __m512i plane_step = _mm512_set1_epi32(static_cast<int>(plane));
  for (int64_t j = 0; j < panels(cols, kNr); ++j) {
    float* panel = packed + j * kNr * depth;
    for (int64_t v = 0; v < kNr / 16; ++v) {
      alignas(64) int32_t base[16], top[16], left[16];
      // Lanes of one image: lane l of segment i reads src[segment_offset[i] + l + shift].
      constexpr int kMaxSegments = 4;
      __mmask16 segment_lanes[kMaxSegments] = {};
      int64_t segment_offset[kMaxSegments] = {};
      int segments = 0;
      int64_t last_image = -1;
      for (int l = 0; l < 16; ++l) {
        const int64_t col = j * kNr + v * 16 + l;
        if (col < cols) {
          const Pixel px = pixel_of(g, col0 + col);
          top[l] = static_cast<int32_t>(px.top);
          left[l] = static_cast<int32_t>(px.left);
          base[l] = static_cast<int32_t>(px.n * g.c * plane + px.top * g.w + px.left);
          if (px.n != last_image) {
            if (segments < kMaxSegments) {
              segment_offset[segments] = px.n * g.c * plane + (col0 + col) % pixels - l;
            }
            ++segments;
            last_image = px.n;
          }
          if (segments <= kMaxSegments)
            segment_lanes[segments - 1] |= static_cast<__mmask16>(1u << l);
        } else {
          top[l] = INT32_MIN / 2;  // never inside the image: the lane reads as zero
          left[l] = 0;
          base[l] = 0;
        }
      }
      const bool loads = contiguous && segments <= kMaxSegments;
      const __m512i vbase = _mm512_load_si512(base), vtop = _mm512_load_si512(top);
      const __m512i vleft = _mm512_load_si512(left);
      for (int64_t r = 0; r < g.r; ++r) {
        const __mmask16 row_ok = _mm512_cmplt_epu32_mask(
            _mm512_add_epi32(vtop, _mm512_set1_epi32(static_cast<int>(r))), height);
        for (int64_t s = 0; s < g.s; ++s) {
          const __mmask16 ok =
              row_ok & _mm512_cmplt_epu32_mask(
                           _mm512_add_epi32(vleft, _mm512_set1_epi32(static_cast<int>(s))), width);
          float* dst = panel + (r * g.s + s) * kNr + v * 16;
          const int64_t dst_step = g.r * g.s * kNr;
          if (loads) {
            const int64_t shift = (r - g.pad_h) * g.w + (s - g.pad_w);
            for (int64_t c = 0; c < g.c; ++c) {
              __m512 value = _mm512_setzero_ps();
              for (int i = 0; i < segments; ++i) {
                value =
                    _mm512_mask_loadu_ps(value, ok & segment_lanes[i],
                                         offset_ptr(src, segment_offset[i] + shift + c * plane));
              }
              _mm512_storeu_ps(dst + c * dst_step, value);
            }
            continue;
          }
          __m512i offset =
              _mm512_add_epi32(vbase, _mm512_set1_epi32(static_cast<int>(r * g.w + s)));
          for (int64_t c = 0; c < g.c; ++c) {
            _mm512_storeu_ps(dst + c * dst_step,
                             _mm512_mask_i32gather_ps(_mm512_setzero_ps(), ok, offset, src, 4));
            offset = _mm512_add_epi32(offset, plane_step);
          }
        }
      }
    }
  }
}
#elif defined(__AVX2__)
// AVX2 compares only signed integers. Offsetting both sides by 2^31 turns the bounds check
// 0 <= x < bound (x < bound as unsigned) into one signed compare; lanes keep their coordinates
// offset, so a window step is still a single add.
inline __m256i offset_by_sign(__m256i v) {
  return _mm256_xor_si256(v, _mm256_set1_epi32(INT32_MIN));
}
inline __m256i below(__m256i offset_x, __m256i offset_bound) {
  return _mm256_cmpgt_epi32(offset_bound, offset_x);
}

// The AVX-512 design at eight columns per vector, three vectors per 24-wide panel: per (r, s) one
// bounds mask, then one masked unaligned load per image in the group where stride 1 and a "same"
// width make an image's columns consecutive addresses, an 8-lane gather otherwise. A masked load
// zeroes the lanes it skips, so the images' loads combine with ORs.
void im2col_packed(const float* src, const Window& g, int64_t col0, int64_t cols, float* packed) {
  const int64_t depth = g.depth(), plane = g.h * g.w, pixels = g.pixels();
  const bool contiguous = g.stride == 1 && g.ow == g.w;
  const __m256i height = offset_by_sign(_mm256_set1_epi32(static_cast<int>(g.h)));
  const __m256i width = offset_by_sign(_mm256_set1_epi32(static_cast<int>(g.w)));
  const __m256i plane_step = _mm256_set1_epi32(static_cast<int>(plane));
  const int64_t dst_step = g.r * g.s * kNr;
  for (int64_t j = 0; j < panels(cols, kNr); ++j) {
    float* panel = packed + j * kNr * depth;
    for (int64_t v = 0; v < kNr / 8; ++v) {
      alignas(32) int32_t base[8], top[8], left[8], segment_of[8];
      // Lanes of one image: lane l of segment i reads src[segment_offset[i] + l + shift].
      constexpr int kMaxSegments = 4;
      int64_t segment_offset[kMaxSegments] = {};
      int segments = 0;
      int64_t last_image = -1;
      for (int l = 0; l < 8; ++l) {
        const int64_t col = j * kNr + v * 8 + l;
        if (col < cols) {
          const Pixel px = pixel_of(g, col0 + col);
          top[l] = static_cast<int32_t>(px.top);
          left[l] = static_cast<int32_t>(px.left);
          base[l] = static_cast<int32_t>(px.n * g.c * plane + px.top * g.w + px.left);
          if (px.n != last_image) {
            if (segments < kMaxSegments) {
              segment_offset[segments] = px.n * g.c * plane + (col0 + col) % pixels - l;
            }
            ++segments;
            last_image = px.n;
          }
          segment_of[l] = segments - 1;
        } else {
          top[l] = INT32_MIN / 2;  // never inside the image: the lane reads as zero
          left[l] = 0;
          base[l] = 0;
          segment_of[l] = -1;
        }
      }
      const bool loads = contiguous && segments <= kMaxSegments;
      // A vector wholly past `cols` has no segment; its one all-off load stores zeros.
      const int loaded = std::clamp(segments, 1, kMaxSegments);
      const __m256i vsegment = _mm256_load_si256(reinterpret_cast<const __m256i*>(segment_of));
      __m256i segment_lanes[kMaxSegments];
      for (int i = 0; i < loaded; ++i) {
        segment_lanes[i] = _mm256_cmpeq_epi32(vsegment, _mm256_set1_epi32(i));
      }
      const __m256i vbase = _mm256_load_si256(reinterpret_cast<const __m256i*>(base));
      const __m256i vtop = offset_by_sign(_mm256_load_si256(reinterpret_cast<const __m256i*>(top)));
      const __m256i vleft =
          offset_by_sign(_mm256_load_si256(reinterpret_cast<const __m256i*>(left)));
      for (int64_t r = 0; r < g.r; ++r) {
        const __m256i row_ok =
            below(_mm256_add_epi32(vtop, _mm256_set1_epi32(static_cast<int>(r))), height);
        for (int64_t s = 0; s < g.s; ++s) {
          const __m256i ok = _mm256_and_si256(
              row_ok,
              below(_mm256_add_epi32(vleft, _mm256_set1_epi32(static_cast<int>(s))), width));
          float* dst = panel + (r * g.s + s) * kNr + v * 8;
          if (loads) {
            const int64_t shift = (r - g.pad_h) * g.w + (s - g.pad_w);
            __m256i live[kMaxSegments];
            for (int i = 0; i < loaded; ++i) live[i] = _mm256_and_si256(ok, segment_lanes[i]);
            for (int64_t c = 0; c < g.c; ++c) {
              __m256 value = _mm256_maskload_ps(
                  offset_ptr(src, segment_offset[0] + shift + c * plane), live[0]);
              for (int i = 1; i < loaded; ++i) {
                value = _mm256_or_ps(
                    value, _mm256_maskload_ps(
                               offset_ptr(src, segment_offset[i] + shift + c * plane), live[i]));
              }
              _mm256_storeu_ps(dst + c * dst_step, value);
            }
            continue;
          }
          __m256i offset =
              _mm256_add_epi32(vbase, _mm256_set1_epi32(static_cast<int>(r * g.w + s)));
          for (int64_t c = 0; c < g.c; ++c) {
            _mm256_storeu_ps(dst + c * dst_step,
                             _mm256_mask_i32gather_ps(_mm256_setzero_ps(), src, offset,
                                                      _mm256_castsi256_ps(ok), 4));
            offset = _mm256_add_epi32(offset, plane_step);
          }
        }
      }
    }
  }
}
#else
void im2col_packed(const float* src, const Window& g, int64_t col0, int64_t cols, float* packed) {
  const int64_t depth = g.depth(), plane = g.h * g.w;
  for (int64_t j = 0; j < panels(cols, kNr); ++j) {
    float* panel = packed + j * kNr * depth;
    for (int64_t l = 0; l < kNr; ++l) {
      const int64_t col = j * kNr + l;
      if (col >= cols) {
        for (int64_t d = 0; d < depth; ++d) panel[d * kNr + l] = 0.0f;
        continue;
      }
      const Pixel px = pixel_of(g, col0 + col);
      const float* image = src + px.n * g.c * plane;
      for (int64_t c = 0; c < g.c; ++c) {
        for (int64_t r = 0; r < g.r; ++r) {
          for (int64_t s = 0; s < g.s; ++s) {
            const int64_t ih = px.top + r, iw = px.left + s;
            const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
            panel[((c * g.r + r) * g.s + s) * kNr + l] =
                inside ? image[c * plane + ih * g.w + iw] : 0.0f;
          }
        }
      }
    }
  }
}
#endif

#if defined(__AVX512F__)
// rows[i] lane j -> rows[j] lane i. Unpacks and 64-bit shuffles transpose the 4 × 4 blocks inside
// each 128-bit lane; two rounds of 128-bit lane shuffles then move the blocks into place.
inline void transpose_16x16(__m512* rows) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(rows[i], rows[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(rows[i], rows[i + 1]);
  }
  // u[4G + j], lane L: element 4L + j of rows 4G .. 4G + 3.
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // Output row 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
  for (int j = 0; j < 4; ++j) {
    const __m512 ab_even = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 ab_odd = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 cd_even = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 cd_odd = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    rows[j] = _mm512_shuffle_f32x4(ab_even, cd_even, _MM_SHUFFLE(2, 0, 2, 0));
    rows[8 + j] = _mm512_shuffle_f32x4(ab_even, cd_even, _MM_SHUFFLE(3, 1, 3, 1));
    rows[4 + j] = _mm512_shuffle_f32x4(ab_odd, cd_odd, _MM_SHUFFLE(2, 0, 2, 0));
    rows[12 + j] = _mm512_shuffle_f32x4(ab_odd, cd_odd, _MM_SHUFFLE(3, 1, 3, 1));
  }
}
#elif defined(__AVX2__)
// rows[i] lane j -> rows[j] lane i, for 8 × 8. Unpacks and 64-bit shuffles transpose the 4 × 4
// blocks inside each 128-bit half; one round of half swaps then moves the blocks into place.
inline void transpose_8x8(__m256* rows) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(rows[i], rows[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(rows[i], rows[i + 1]);
  }
  // u[4G + j], half L: element 4L + j of rows 4G .. 4G + 3.
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    rows[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    rows[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

#endif

// x (N, C, H, W) -> (N, H, W, C) for images [n0, n1).
void to_nhwc(const float* x, const ConvShape& g, int64_t n0, int64_t n1, float* out) {
  const int64_t plane = g.h * g.w;
#if defined(__AVX512F__)
  // 16 channels × 16 pixels per tile: 16 row loads, a register transpose (64 shuffles) and 16
  // stores, instead of a 16-lane gather per pixel, which moves one element per cycle (why it
  // matters: notes/cpu-dispatch.md). Partial tiles use masked loads and stores.
  for (int64_t n = n0; n < n1; ++n) {
    const float* image = x + n * g.c * plane;
    float* to = out + n * plane * g.c;
    for (int64_t c0 = 0; c0 < g.c; c0 += 16) {
      const int64_t channels = std::min<int64_t>(16, g.c - c0);
      const __mmask16 channel_mask = static_cast<__mmask16>((1u << channels) - 1u);
      for (int64_t p0 = 0; p0 < plane; p0 += 16) {
        const int64_t count = std::min<int64_t>(16, plane - p0);
        const __mmask16 pixel_mask = static_cast<__mmask16>((1u << count) - 1u);
        __m512 rows[16];
        for (int64_t i = 0; i < 16; ++i) {
          rows[i] = i < channels ? _mm512_maskz_loadu_ps(pixel_mask, image + (c0 + i) * plane + p0)
                                 : _mm512_setzero_ps();
        }
        transpose_16x16(rows);
        for (int64_t q = 0; q < count; ++q) {
          _mm512_mask_storeu_ps(to + (p0 + q) * g.c + c0, channel_mask, rows[q]);
        }
      }
    }
  }
#elif defined(__AVX2__)
  // 8 channels × 8 pixels per tile: 8 row loads, a register transpose (24 shuffles) and 8 stores.
  // A pixel tail uses masked loads. A channel tail (all of a 1- or 3-channel first layer) is
  // copied element by element instead of with the masked stores AVX-512 uses: an AVX2 masked
  // store (vmaskmovps) took five times a plain store on this AMD EPYC.
  const int64_t whole = g.c / 8 * 8;
  for (int64_t n = n0; n < n1; ++n) {
    const float* image = x + n * g.c * plane;
    float* to = out + n * plane * g.c;
    for (int64_t c0 = 0; c0 < whole; c0 += 8) {
      for (int64_t p0 = 0; p0 < plane; p0 += 8) {
        const int64_t count = std::min<int64_t>(8, plane - p0);
        const __m256i pixel_mask = first_lanes(count);
        __m256 rows[8];
        for (int64_t i = 0; i < 8; ++i) {
          const float* from = image + (c0 + i) * plane + p0;
          rows[i] = count == 8 ? _mm256_loadu_ps(from) : _mm256_maskload_ps(from, pixel_mask);
        }
        transpose_8x8(rows);
        for (int64_t q = 0; q < count; ++q) _mm256_storeu_ps(to + (p0 + q) * g.c + c0, rows[q]);
      }
    }
    for (int64_t p = 0; p < plane; ++p) {
      for (int64_t c = whole; c < g.c; ++c) to[p * g.c + c] = image[c * plane + p];
    }
  }
#else
  // 16 × 16 tiles keep both the strided reads and the writes within a few cache lines.
  constexpr int64_t kTile = 16;
  for (int64_t n = n0; n < n1; ++n) {
    const float* image = x + n * g.c * plane;
    float* to = out + n * plane * g.c;
    for (int64_t p0 = 0; p0 < plane; p0 += kTile) {
      const int64_t p1 = std::min(plane, p0 + kTile);
      for (int64_t c0 = 0; c0 < g.c; c0 += kTile) {
        const int64_t c1 = std::min(g.c, c0 + kTile);
        for (int64_t p = p0; p < p1; ++p) {
          for (int64_t c = c0; c < c1; ++c) to[p * g.c + c] = image[c * plane + p];
        }
      }
    }
  }
#endif
}

// im2col(x)ᵀ as a packed B operand for the weight gradient, read from x in NHWC: depth = columns
// [col0, col0 + cols), GEMM columns = (r, s, c) with c fastest, panels [first, last). In this
// order the lanes of one (r, s) are consecutive channels, contiguous in NHWC, so a panel row is
// a few masked vector loads (one per (r, s) it touches) instead of 48 scattered reads.
struct ChannelRun {
  int64_t lane, count, r, s,
      c;  // lanes [lane, lane + count) hold channels [c, c + count) of (r, s)
};

static int channel_runs(const ConvShape& g, int64_t panel, ChannelRun* runs) {
  int count = 0;
  for (int64_t l = 0; l < kNr;) {
    const int64_t index = panel * kNr + l;
    if (index >= g.crs()) break;
    const int64_t rs = index / g.c, c = index % g.c;
    const int64_t len = std::min(g.c - c, kNr - l);
    runs[count++] = {l, len, rs / g.s, rs % g.s, c};
    l += len;
  }
  return count;
}

void im2col_nhwc_transposed_packed(const float* x_nhwc, const ConvShape& g, int64_t col0,
                                   int64_t cols, int64_t first, int64_t last, float* packed) {
  const int64_t pixels = g.pixels();
  for (int64_t j = first; j < last; ++j) {
    ChannelRun runs[kNr];
    const int count = channel_runs(g, j, runs);
    float* dst = packed + (j - first) * kNr * cols;
#if defined(__AVX512F__)
    // Runs of one window row (r) whose channels end at C − 1 and continue at channel 0 of the next
    // s are contiguous in NHWC (source pixels iw and iw + 1 are neighbours), so they merge into
    // one span of lanes: a 3-channel stem's 48 lanes become ~3 loads instead of 16. Lane l of a
    // merged span reads column s_of[l] of the window, which decides its own padding mask.
    struct Span {
      int64_t lane, r, s, c;
      __mmask16 masks[3];
      __m512i s_of[3];
    };
    Span spans[kNr];
    int span_count = 0;
    for (int i = 0; i < count;) {
      const ChannelRun& head = runs[i];
      alignas(64) int32_t s_of[kNr] = {};
      int64_t end = head.lane + head.count;
      for (int64_t l = head.lane; l < end; ++l) s_of[l] = static_cast<int32_t>(head.s);
      int k = i + 1;
      for (; k < count; ++k) {
        const ChannelRun& prev = runs[k - 1];
        const ChannelRun& next = runs[k];
        if (next.r != prev.r || next.s != prev.s + 1 || prev.c + prev.count != g.c || next.c != 0)
          break;
        for (int64_t l = next.lane; l < next.lane + next.count; ++l)
          s_of[l] = static_cast<int32_t>(next.s);
        end = next.lane + next.count;
      }
      Span& span = spans[span_count++];
      span.lane = head.lane;
      span.r = head.r;
      span.s = head.s;
      span.c = head.c;
      for (int v = 0; v < 3; ++v) {
        const int64_t lo = std::clamp<int64_t>(head.lane - 16 * v, 0, 16);
        const int64_t hi = std::clamp<int64_t>(end - 16 * v, 0, 16);
        span.masks[v] = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
        span.s_of[v] = _mm512_load_si512(s_of + 16 * v);
      }
      i = k;
    }
    const __m512i width = _mm512_set1_epi32(static_cast<int>(g.w));
#elif defined(__AVX2__)
    // As with AVX-512: runs merged into spans of contiguous NHWC lanes, three vectors of 8 per
    // panel row, the padding per lane from the window column it reads (kept offset by 2^31 for
    // the signed compare, see below()).
    struct Span {
      int64_t lane, r, s, c;
      int vectors;  // bit v: the span has lanes in vector v
      __m256i masks[3];
      __m256i s_of[3];
    };
    Span spans[kNr];
    int span_count = 0;
    for (int i = 0; i < count;) {
      const ChannelRun& head = runs[i];
      alignas(32) int32_t s_of[kNr] = {}, lanes[kNr] = {};
      int64_t end = head.lane + head.count;
      for (int64_t l = head.lane; l < end; ++l) s_of[l] = static_cast<int32_t>(head.s);
      int k = i + 1;
      for (; k < count; ++k) {
        const ChannelRun& prev = runs[k - 1];
        const ChannelRun& next = runs[k];
        if (next.r != prev.r || next.s != prev.s + 1 || prev.c + prev.count != g.c || next.c != 0)
          break;
        for (int64_t l = next.lane; l < next.lane + next.count; ++l)
          s_of[l] = static_cast<int32_t>(next.s);
        end = next.lane + next.count;
      }
      for (int64_t l = head.lane; l < end; ++l) lanes[l] = -1;
      Span& span = spans[span_count++];
      span.lane = head.lane;
      span.r = head.r;
      span.s = head.s;
      span.c = head.c;
      span.vectors = 0;
      for (int v = 0; v < 3; ++v) {
        if (head.lane < 8 * (v + 1) && end > 8 * v) span.vectors |= 1 << v;
        span.masks[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes + 8 * v));
        span.s_of[v] =
            offset_by_sign(_mm256_load_si256(reinterpret_cast<const __m256i*>(s_of + 8 * v)));
      }
      i = k;
    }
    const __m256i width = offset_by_sign(_mm256_set1_epi32(static_cast<int>(g.w)));
#endif
    int64_t n = col0 / pixels, p = col0 % pixels;
    int64_t oh = p / g.ow, ow = p % g.ow;
    for (int64_t i = 0; i < cols; ++i) {
      const int64_t top = oh * g.stride - g.pad, left = ow * g.stride - g.pad;
      float* out = dst + i * kNr;
#if defined(__AVX512F__)
      __m512 value[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      const __m512i vleft = _mm512_set1_epi32(static_cast<int>(left));
      for (int k = 0; k < span_count; ++k) {
        const Span& span = spans[k];
        const int64_t ih = top + span.r;
        // Branch-free padding: rows outside the image switch the whole span off, columns outside
        // it their lanes (loads nothing). Half the pixels of a 6×6 image touch the border, too
        // many for the branch predictor.
        const __mmask16 row_live = static_cast<uint64_t>(ih) < static_cast<uint64_t>(g.h)
                                       ? __mmask16{0xFFFF}
                                       : __mmask16{0};
        const float* from =
            offset_ptr(x_nhwc, ((n * g.h + ih) * g.w + left + span.s) * g.c + span.c - span.lane);
        for (int v = 0; v < 3; ++v) {
          if (!span.masks[v]) continue;
          const __mmask16 live =
              span.masks[v] & row_live &
              _mm512_cmplt_epu32_mask(_mm512_add_epi32(vleft, span.s_of[v]), width);
          value[v] = _mm512_mask_loadu_ps(value[v], live, from + 16 * v);
        }
      }
      for (int v = 0; v < 3; ++v) _mm512_storeu_ps(out + 16 * v, value[v]);
#elif defined(__AVX2__)
      __m256 value[3] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      const __m256i vleft = _mm256_set1_epi32(static_cast<int>(left));
      for (int k = 0; k < span_count; ++k) {
        const Span& span = spans[k];
        const int64_t ih = top + span.r;
        // Branch-free padding, as with AVX-512: an all-or-nothing row mask, per-lane columns.
        const __m256i row_live =
            _mm256_set1_epi32(static_cast<uint64_t>(ih) < static_cast<uint64_t>(g.h) ? -1 : 0);
        const int64_t from = ((n * g.h + ih) * g.w + left + span.s) * g.c + span.c - span.lane;
        for (int v = 0; v < 3; ++v) {
          if (!(span.vectors >> v & 1)) continue;
          const __m256i live =
              _mm256_and_si256(_mm256_and_si256(span.masks[v], row_live),
                               below(_mm256_add_epi32(vleft, span.s_of[v]), width));
          value[v] =
              _mm256_or_ps(value[v], _mm256_maskload_ps(offset_ptr(x_nhwc, from + 8 * v), live));
        }
      }
      for (int v = 0; v < 3; ++v) _mm256_storeu_ps(out + 8 * v, value[v]);
#else
      std::fill(out, out + kNr, 0.0f);
      for (int k = 0; k < count; ++k) {
        const ChannelRun& run = runs[k];
        const int64_t ih = top + run.r, iw = left + run.s;
        if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
        const float* from = x_nhwc + ((n * g.h + ih) * g.w + iw) * g.c + run.c;
        std::copy(from, from + run.count, out + run.lane);
      }
#endif
      // Step to the next output pixel (and image) without dividing.
      if (++ow == g.ow) {
        ow = 0;
        if (++oh == g.oh) {
          oh = 0;
          ++n;
        }
      }
    }
  }
}

// ---- packing of weights and output gradients
// ------------------------------------------------------

// Calls fn(n, first pixel, length, offset in the range) for the runs of columns [col0, col0 + cols)
// that lie in one image; columns of one image are contiguous in NCHW, so each run is a copy.
template <class Fn>
void for_each_image_run(int64_t col0, int64_t cols, int64_t pixels, Fn fn) {
  for (int64_t done = 0; done < cols;) {
    const int64_t n = (col0 + done) / pixels, p = (col0 + done) % pixels;
    const int64_t len = std::min(pixels - p, cols - done);
    fn(n, p, len, done);
    done += len;
  }
}

// A (C × K·R·S) for the stride-1 input gradient: A[c][(k, r', s')] = w[k, c, R−1−r', S−1−s'].
void pack_flipped_weights(const float* w, const ConvShape& g, int64_t first, int64_t last,
                          float* packed) {
  const int64_t depth = g.k * g.r * g.s;
  for (int64_t i = first; i < last; ++i) {
    float* dst = packed + i * kMr * depth;
    for (int64_t row = 0; row < kMr; ++row) {
      const int64_t c = i * kMr + row;
      for (int64_t k = 0; k < g.k; ++k) {
        for (int64_t r = 0; r < g.r; ++r) {
          for (int64_t s = 0; s < g.s; ++s) {
            const int64_t p = (k * g.r + r) * g.s + s;
            dst[p * kMr + row] =
                c < g.c ? w[((k * g.c + c) * g.r + (g.r - 1 - r)) * g.s + (g.s - 1 - s)] : 0.0f;
          }
        }
      }
    }
  }
}

// dy (N, K, P) as a packed A operand (K × N·P, full depth): columns [col0, col0 + cols).
void pack_grad_as_a(const float* dy, const ConvShape& g, int64_t col0, int64_t cols,
                    float* packed) {
  const int64_t pixels = g.pixels(), depth = g.n * pixels;
#if defined(__AVX512F__)
  static_assert(kMr == 8, "two columns of a panel fill one 16-lane vector");
  // Lane l reads row l % 8 of column l / 8: one gather moves two whole columns of a panel (the
  // transpose of 8 rows of contiguous pixels), where scalar code would need 16 strided stores.
  alignas(64) int32_t lanes[16];
  for (int l = 0; l < 16; ++l) lanes[l] = static_cast<int32_t>((l % 8) * pixels + l / 8);
  const __m512i two_columns = _mm512_load_si512(lanes);
#endif
  for_each_image_run(col0, cols, pixels, [&](int64_t n, int64_t p, int64_t len, int64_t done) {
    int64_t first_panel = 0;
#if defined(__AVX512F__)
    // Sixteen channels (two panels) × sixteen pixels per register transpose: the transposed
    // rows' halves are the panels' depth steps. Twice as fast as the two-column gathers below,
    // which remain for a channel count that is not a multiple of 16.
    for (int64_t k0 = 0; k0 + 16 <= g.k; k0 += 16, first_panel += 2) {
      float* dst = packed + (k0 / kMr) * kMr * depth + (col0 + done) * kMr;
      const float* src = dy + (n * g.k + k0) * pixels + p;
      for (int64_t t = 0; t < len; t += 16) {
        const int64_t count = std::min<int64_t>(16, len - t);
        const __mmask16 live = static_cast<__mmask16>((1u << count) - 1u);
        __m512 rows[16];
        for (int64_t r = 0; r < 16; ++r) {
          rows[r] = _mm512_maskz_loadu_ps(live, src + r * pixels + t);
        }
        transpose_16x16(rows);
        for (int64_t q = 0; q < count; ++q) {
          _mm256_storeu_ps(dst + (t + q) * kMr, _mm512_castps512_ps256(rows[q]));
          _mm256_storeu_ps(dst + kMr * depth + (t + q) * kMr,
                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(rows[q]), 1)));
        }
      }
    }
#elif defined(__AVX2__)
    static_assert(kMr == 4, "two pixels of a panel fill one 8-lane vector");
    // One panel (four channels) × eight pixels per register transpose: the 4 × 4 blocks inside
    // each 128-bit half, then half swaps pair pixels t, t + 1 into one full store. That covers
    // every whole panel with plain loads and stores, where the gathers the AVX-512 code keeps
    // for odd channel counts would move one element per cycle.
    for (; (first_panel + 1) * kMr <= g.k; ++first_panel) {
      float* dst = packed + first_panel * kMr * depth + (col0 + done) * kMr;
      const float* src = dy + (n * g.k + first_panel * kMr) * pixels + p;
      for (int64_t t = 0; t < len; t += 8) {
        const int64_t count = std::min<int64_t>(8, len - t);
        const __m256i live = first_lanes(count);
        __m256 rows[4];
        for (int64_t r = 0; r < 4; ++r) {
          const float* from = src + r * pixels + t;
          rows[r] = count == 8 ? _mm256_loadu_ps(from) : _mm256_maskload_ps(from, live);
        }
        const __m256 t0 = _mm256_unpacklo_ps(rows[0], rows[1]);
        const __m256 t1 = _mm256_unpackhi_ps(rows[0], rows[1]);
        const __m256 t2 = _mm256_unpacklo_ps(rows[2], rows[3]);
        const __m256 t3 = _mm256_unpackhi_ps(rows[2], rows[3]);
        // pixel[i], half L: the four channels of pixel 4L + i.
        const __m256 pixel[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                                 _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
        // Pixels 2i and 2i + 1 side by side: one store each. Named, not an array: GCC spilled an
        // array of them to the stack and copied it out with memcpy.
        const __m256 pixels01 = _mm256_permute2f128_ps(pixel[0], pixel[1], 0x20);
        const __m256 pixels23 = _mm256_permute2f128_ps(pixel[2], pixel[3], 0x20);
        const __m256 pixels45 = _mm256_permute2f128_ps(pixel[0], pixel[1], 0x31);
        const __m256 pixels67 = _mm256_permute2f128_ps(pixel[2], pixel[3], 0x31);
        float* to = dst + t * kMr;
        if (count >= 2) _mm256_storeu_ps(to, pixels01);
        if (count >= 4) _mm256_storeu_ps(to + 2 * kMr, pixels23);
        if (count >= 6) _mm256_storeu_ps(to + 4 * kMr, pixels45);
        if (count == 8) _mm256_storeu_ps(to + 6 * kMr, pixels67);
        if (count % 2 == 1) {
          const __m256 last = count == 7   ? pixels67
                              : count == 5 ? pixels45
                              : count == 3 ? pixels23
                                           : pixels01;
          _mm_storeu_ps(to + (count - 1) * kMr, _mm256_castps256_ps128(last));
        }
      }
    }
#endif
    for (int64_t i = first_panel; i < panels(g.k, kMr); ++i) {
      float* dst = packed + i * kMr * depth + (col0 + done) * kMr;
#if defined(__AVX512F__)
      if ((i + 1) * kMr <= g.k) {
        const float* src = dy + (n * g.k + i * kMr) * pixels + p;
        int64_t t = 0;
        for (; t + 2 <= len; t += 2) {
          _mm512_storeu_ps(dst + t * kMr, _mm512_i32gather_ps(two_columns, src + t, 4));
        }
        if (t < len) {
          _mm512_mask_storeu_ps(
              dst + t * kMr, 0xFF,
              _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFF, two_columns, src + t, 4));
        }
        continue;
      }
#endif
      for (int64_t row = 0; row < kMr; ++row) {
        const int64_t k = i * kMr + row;
        if (k >= g.k) {
          for (int64_t t = 0; t < len; ++t) dst[t * kMr + row] = 0.0f;
          continue;
        }
        const float* src = dy + (n * g.k + k) * pixels + p;
        for (int64_t t = 0; t < len; ++t) dst[t * kMr + row] = src[t];
      }
    }
  });
}

// dy (N, K, P) as a packed B operand (K × cols) for columns [col0, col0 + cols).
void pack_grad_as_b(const float* dy, const ConvShape& g, int64_t col0, int64_t cols,
                    float* packed) {
  const int64_t pixels = g.pixels();
  const int64_t tail = panels(cols, kNr) * kNr;
  for (int64_t k = 0; k < g.k; ++k) {
    for (int64_t col = cols; col < tail; ++col)
      packed[(col / kNr) * kNr * g.k + k * kNr + col % kNr] = 0.0f;
  }
  // One copy per piece of a dy row that falls in one panel, instead of a division per element.
  for_each_image_run(col0, cols, pixels, [&](int64_t n, int64_t p, int64_t len, int64_t done) {
    for (int64_t k = 0; k < g.k; ++k) {
      const float* src = dy + (n * g.k + k) * pixels + p;
      for (int64_t t = 0; t < len;) {
        const int64_t col = done + t, lane = col % kNr, piece = std::min(kNr - lane, len - t);
        std::memcpy(packed + (col / kNr) * kNr * g.k + k * kNr + lane, src + t,
                    sizeof(float) * piece);
        t += piece;
      }
    }
  });
}

// ---- writing results back
// ------------------------------------------------------------------------

// out (rows × cols, leading dimension ld) -> dst (N, rows, P) at columns [col0, col0 + cols),
// plus bias[row] when given: a contiguous copy per (image, row).
void scatter_rows(const float* out, int64_t ld, int64_t rows, int64_t pixels, int64_t col0,
                  int64_t cols, const float* bias, float* dst) {
  for_each_image_run(col0, cols, pixels, [&](int64_t n, int64_t p, int64_t len, int64_t done) {
    for (int64_t row = 0; row < rows; ++row) {
      const float* src = out + row * ld + done;
      float* to = dst + (n * rows + row) * pixels + p;
      const float b = bias ? bias[row] : 0.0f;
      for (int64_t t = 0; t < len; ++t) to[t] = src[t] + b;
    }
  });
}

// Output positions o in [0, count) whose source index o·stride + offset lies in [0, size).
static Range valid_outputs(int64_t count, int64_t stride, int64_t offset, int64_t size) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t hi = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
  return {std::min(lo, count), std::clamp<int64_t>(hi, 0, count)};
}

// The adjoint of im2col: dx[n, c, ih, iw] += dcols[(c, r, s), col] (stride > 1 only). Walks each
// image's columns output row by output row with the valid column range worked out once per row:
// a division and four compares per element (as pixel_of did) cost more than the GEMM that made
// the element at ResNet's stride-2 shapes. Each dx element still receives its terms in (r, s)
// order, so the sums are those of a plain loop.
void col2im_add(const float* dcols, int64_t ld, const Window& g, int64_t col0, int64_t cols,
                float* dx) {
  const int64_t plane = g.h * g.w, pixels = g.pixels();
  for_each_image_run(col0, cols, pixels, [&](int64_t n, int64_t p, int64_t len, int64_t done) {
    for (int64_t c = 0; c < g.c; ++c) {
      float* channel = dx + (n * g.c + c) * plane;
      for (int64_t r = 0; r < g.r; ++r) {
        for (int64_t s = 0; s < g.s; ++s) {
          const float* row = dcols + ((c * g.r + r) * g.s + s) * ld + done;
          const Range across = valid_outputs(g.ow, g.stride, s - g.pad_w, g.w);
          int64_t oh = p / g.ow, ow = p % g.ow;
          for (int64_t i = 0; i < len; oh++, ow = 0) {
            const int64_t span = std::min(g.ow - ow, len - i);
            const int64_t ih = oh * g.stride - g.pad_h + r;
            if (ih >= 0 && ih < g.h) {
              float* to = channel + ih * g.w + s - g.pad_w;
              const float* from = row + i - ow;  // from[o] is output column o of this row
              const int64_t o1 = std::min(across.end, ow + span);
              int64_t o = std::max(across.begin, ow);
#if defined(__AVX512F__)
              if (g.stride == 2) {
                // Sixteen terms at once: spread to the even lanes of two vectors and added with
                // masked loads and stores, which touch no odd element (those may belong to
                // another thread's image at the end of a range).
                const __m512i low =
                    _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
                const __m512i high =
                    _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
                constexpr __mmask16 even = 0x5555;
                for (; o + 16 <= o1; o += 16) {
                  const __m512 terms = _mm512_loadu_ps(from + o);
                  float* d = to + 2 * o;
                  _mm512_mask_storeu_ps(d, even,
                                        _mm512_add_ps(_mm512_maskz_loadu_ps(even, d),
                                                      _mm512_permutexvar_ps(low, terms)));
                  _mm512_mask_storeu_ps(d + 16, even,
                                        _mm512_add_ps(_mm512_maskz_loadu_ps(even, d + 16),
                                                      _mm512_permutexvar_ps(high, terms)));
                }
              }
#elif defined(__AVX2__)
              if (g.stride == 2) {
                // Eight terms at once, spread to the even lanes of two vectors. The odd lanes are
                // written back as read: a blend and plain stores, as an AVX2 masked store costs
                // five plain ones on AMD. That is safe while all sixteen floats lie in image n,
                // which this thread owns; the next may be another thread's, or past the end of dx.
                const __m256i low = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
                const __m256i high = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
                constexpr int even = 0x55;
                const int64_t room = (n + 1) * g.c * plane - (to - dx);  // floats left in image n
                for (; o + 8 <= o1 && 2 * o + 16 <= room; o += 8) {
                  const __m256 terms = _mm256_loadu_ps(from + o);
                  float* d = to + 2 * o;
                  const __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
                  _mm256_storeu_ps(
                      d, _mm256_blend_ps(
                             d0, _mm256_add_ps(d0, _mm256_permutevar8x32_ps(terms, low)), even));
                  _mm256_storeu_ps(
                      d + 8,
                      _mm256_blend_ps(d1, _mm256_add_ps(d1, _mm256_permutevar8x32_ps(terms, high)),
                                      even));
                }
              }
#endif
              for (; o < o1; ++o) to[o * g.stride] += from[o];
            }
            i += span;
          }
        }
      }
    }
  });
}

}  // namespace keel::cpu::KEEL_CPU_ISA::conv
