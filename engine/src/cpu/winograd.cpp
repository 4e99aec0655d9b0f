// Winograd F(2x2, 3x3) on the CPU (see winograd.h): per chunk of tiles, transform the input tiles
// into 16 packed GEMM B operands, multiply each by its transformed filters, transform the 16
// products back into 2x2 output tiles.
#include "cpu/winograd.h"

#include <algorithm>
#include <bit>

#include "cpu/gemm.h"

namespace keel::cpu::KEEL_CPU_ISA::winograd {

namespace {

using gemm::kMr;
using gemm::kNr;

constexpr int kPoints = 16;  // transformed points per tile (4x4)

// Floats of one chunk's transformed inputs and products together: 1 MiB, so they stay in a 2 MiB
// L2 next to the packed filters of a small layer, and in a 1 MiB one for most of the chunk.
constexpr int64_t kChunkFloats = 256 * 1024;

int64_t filter_stride(const Geometry& g) {
  return gemm::round_up(g.out, kMr) * g.in;
}
int64_t padded_chunk(const Geometry& g) {
  return gemm::round_up(chunk_tiles(g), kNr);
}

// One GEMM panel of tiles: per lane, where its 16 input elements are read from (an index into
// a channel's plane of every image, pointing at the image's first element where the element lies
// in the padding, so the read is always in bounds) and whether each is kept, and where its 2x2
// output tile goes.
struct Panel {
  int64_t live = 0;  // lanes holding a tile
  int32_t index[kPoints][kNr];
  uint32_t keep[kPoints][kNr];  // all ones or zero: the element's bits are kept or cleared
  int64_t out_offset[kNr];
  bool right[kNr], down[kNr];  // the tile's second output column / row lies in the plane
  bool whole = false;          // every output of every tile lies in the plane (even sides)
};

void describe_panel(const Geometry& g, int64_t first_tile, int64_t live, Panel& p) {
  const int64_t tiles_h = g.tiles_h(), tiles_w = g.tiles_w(), plane = g.h * g.w;
  p.live = live;
  p.whole = g.h % 2 == 0 && g.w % 2 == 0;
  for (int64_t l = 0; l < kNr; ++l) {
    const int64_t t = first_tile + std::min(l, live - 1);
    const int64_t image = t / (tiles_h * tiles_w), rest = t % (tiles_h * tiles_w);
    const int64_t top = 2 * (rest / tiles_w) - 1, left = 2 * (rest % tiles_w) - 1;
    const int64_t in_base = image * g.in * plane, out_base = image * g.out * plane;
    for (int e = 0; e < kPoints; ++e) {
      const int64_t row = top + e / 4, col = left + e % 4;
      const bool inside = l < live && row >= 0 && row < g.h && col >= 0 && col < g.w;
      p.keep[e][l] = inside ? ~0u : 0u;
      p.index[e][l] = static_cast<int32_t>(inside ? in_base + row * g.w + col : in_base);
    }
    p.out_offset[l] = out_base + (top + 1) * g.w + left + 1;
    p.right[l] = left + 2 < g.w;
    p.down[l] = top + 2 < g.h;
  }
}

// v[xi][lane] = (Bᵀ d B)[xi] for the panel's tiles of one channel (src points at that channel of
// image 0), with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; row xi of v is kNr·rows floats
// after row xi − 1 (the packed B layout of point xi's GEMM).
void transform_inputs(const float* src, const Panel& p, float* v, int64_t point_stride) {
  // A mask rather than a branch per element: which elements lie in the padding changes from
  // lane to lane, and mispredicting it cost more than the rest of the transform. (The bits of
  // the always-valid read are cleared, not multiplied by zero, which would turn an infinite
  // value there into a NaN in a tile that never reads it.)
  float d[kPoints][kNr];
  for (int e = 0; e < kPoints; ++e) {
    for (int64_t l = 0; l < kNr; ++l) {
      d[e][l] = std::bit_cast<float>(std::bit_cast<uint32_t>(src[p.index[e][l]]) & p.keep[e][l]);
    }
  }
  float t[kPoints][kNr];  // Bᵀ d
  for (int j = 0; j < 4; ++j) {
    for (int64_t l = 0; l < kNr; ++l) {
      const float d0 = d[j][l], d1 = d[4 + j][l], d2 = d[8 + j][l], d3 = d[12 + j][l];
      t[j][l] = d0 - d2;
      t[4 + j][l] = d1 + d2;
      t[8 + j][l] = d2 - d1;
      t[12 + j][l] = d1 - d3;
    }
  }
  for (int i = 0; i < 4; ++i) {  // (Bᵀ d) B
    float* v0 = v + (4 * i) * point_stride;
    float* v1 = v0 + point_stride;
    float* v2 = v1 + point_stride;
    float* v3 = v2 + point_stride;
    for (int64_t l = 0; l < kNr; ++l) {
      const float a = t[4 * i][l], b = t[4 * i + 1][l], c = t[4 * i + 2][l], e = t[4 * i + 3][l];
      v0[l] = a - c;
      v1[l] = b + c;
      v2[l] = c - b;
      v3[l] = b - e;
    }
  }
}

// The panel's 2x2 output tiles of one output channel (dst points at that channel of image 0) from
// the products m[xi][lane] (row xi point_stride floats after row xi − 1): Aᵀ m A + bias, with
// Aᵀ = [1 1 1 0; 0 1 -1 -1].
void transform_products(const float* m, int64_t point_stride, float bias, const Panel& p,
                        int64_t width, float* dst) {
  float t[8][kNr];  // Aᵀ m
  for (int j = 0; j < 4; ++j) {
    const float* m0 = m + j * point_stride;
    const float* m1 = m0 + 4 * point_stride;
    const float* m2 = m1 + 4 * point_stride;
    const float* m3 = m2 + 4 * point_stride;
    for (int64_t l = 0; l < kNr; ++l) {
      t[j][l] = m0[l] + m1[l] + m2[l];
      t[4 + j][l] = m1[l] - m2[l] - m3[l];
    }
  }
  float y[4][kNr];
  for (int i = 0; i < 2; ++i) {  // (Aᵀ m) A
    for (int64_t l = 0; l < kNr; ++l) {
      const float a = t[4 * i][l], b = t[4 * i + 1][l], c = t[4 * i + 2][l], e = t[4 * i + 3][l];
      y[2 * i][l] = a + b + c + bias;
      y[2 * i + 1][l] = b - c - e + bias;
    }
  }
  if (p.whole) {  // no tile hangs past the plane: no tests per element
    for (int64_t l = 0; l < p.live; ++l) {
      float* out = dst + p.out_offset[l];
      out[0] = y[0][l];
      out[1] = y[1][l];
      out[width] = y[2][l];
      out[width + 1] = y[3][l];
    }
    return;
  }
  for (int64_t l = 0; l < p.live; ++l) {
    float* out = dst + p.out_offset[l];
    out[0] = y[0][l];
    if (p.right[l]) out[1] = y[1][l];
    if (p.down[l]) out[width] = y[2][l];
    if (p.right[l] && p.down[l]) out[width + 1] = y[3][l];
  }
}

// The kMr filters (output channels) of one panel for one input channel, lane r holding row r of
// the panel: g[e][r] is element e of filter (panel·kMr + r, i), zero past `out`.
void read_filters(const float* w, const Geometry& g, Filters kind, int64_t panel, int64_t i,
                  float filters[9][kMr]) {
  for (int64_t r = 0; r < kMr; ++r) {
    const int64_t o = panel * kMr + r;
    for (int e = 0; e < 9; ++e) {
      if (o >= g.out) {
        filters[e][r] = 0.0f;
      } else if (kind == Filters::forward) {
        filters[e][r] = w[(o * g.in + i) * 9 + e];
      } else {
        filters[e][r] = w[(i * g.out + o) * 9 + 8 - e];
      }
    }
  }
}

// u (4x4) = G g Gᵀ for each lane's 3x3 filter g, with G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]: one
// panel row of each point's packed A operand, so the lanes are stored as they are.
void transform_filters(const float g[9][kMr], float u[kPoints][kMr]) {
  float t[12][kMr];  // G g
  for (int j = 0; j < 3; ++j) {
    for (int64_t r = 0; r < kMr; ++r) {
      const float g0 = g[j][r], g1 = g[3 + j][r], g2 = g[6 + j][r];
      t[j][r] = g0;
      t[3 + j][r] = 0.5f * (g0 + g1 + g2);
      t[6 + j][r] = 0.5f * (g0 - g1 + g2);
      t[9 + j][r] = g2;
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int64_t r = 0; r < kMr; ++r) {
      const float a = t[3 * i][r], b = t[3 * i + 1][r], c = t[3 * i + 2][r];
      u[4 * i][r] = a;
      u[4 * i + 1][r] = 0.5f * (a + b + c);
      u[4 * i + 2][r] = 0.5f * (a - b + c);
      u[4 * i + 3][r] = c;
    }
  }
}

// Tiles [first, first + count) (count <= chunk_tiles): transform, 16 GEMMs, transform back.
void convolve_chunk(const float* src, const float* u, const float* bias, const Geometry& g,
                    int64_t first, int64_t count, float* v, float* m, float* dst) {
  const int64_t plane = g.h * g.w, ld = padded_chunk(g);
  const int64_t v_point = ld * g.in, m_point = ld * g.out;
  Panel panel;
  for (int64_t p0 = 0; p0 < count; p0 += kNr) {
    describe_panel(g, first + p0, std::min(kNr, count - p0), panel);
    for (int64_t c = 0; c < g.in; ++c) {
      transform_inputs(src + c * plane, panel, v + p0 * g.in + c * kNr, v_point);
    }
  }
  for (int xi = 0; xi < kPoints; ++xi) {
    gemm::multiply_packed(g.out, count, g.in, u + xi * filter_stride(g), kMr * g.in,
                          v + xi * v_point, kNr * g.in, m + xi * m_point, ld, false);
  }
  for (int64_t p0 = 0; p0 < count; p0 += kNr) {
    describe_panel(g, first + p0, std::min(kNr, count - p0), panel);
    for (int64_t o = 0; o < g.out; ++o) {
      transform_products(m + o * ld + p0, m_point, bias ? bias[o] : 0.0f, panel, g.w,
                         dst + o * plane);
    }
  }
}

}  // namespace

bool preferred(const Geometry& g) {
  // Padding waste: an odd side computes a row or column of outputs that is dropped (a 7x7 plane
  // takes 16 tiles, 64 outputs for 49). Few channels leave the transforms, which do not shrink,
  // as the larger part of the work.
  const double computed = 4.0 * static_cast<double>(g.tiles_h() * g.tiles_w());
  const bool little_waste = computed <= 1.15 * static_cast<double>(g.h * g.w);
  return little_waste && g.in >= 16 && g.out >= 16;
}

size_t filter_floats(const Geometry& g) {
  return static_cast<size_t>(kPoints * filter_stride(g));
}

int64_t chunk_tiles(const Geometry& g) {
  const int64_t fit = kChunkFloats / (kPoints * (g.in + g.out)) / kNr * kNr;
  return std::min(std::max(kNr, fit), gemm::round_up(g.tiles(), kNr));
}

size_t input_floats(const Geometry& g) {
  return static_cast<size_t>(kPoints * padded_chunk(g) * g.in);
}

size_t product_floats(const Geometry& g) {
  return static_cast<size_t>(kPoints * padded_chunk(g) * g.out);
}

void transform_filters(const float* w, const Geometry& g, Filters kind, int64_t first, int64_t last,
                       float* u) {
  const int64_t stride = filter_stride(g);
  float filters[9][kMr], points[kPoints][kMr];
  for (int64_t panel = first; panel < last; ++panel) {
    for (int64_t i = 0; i < g.in; ++i) {
      read_filters(w, g, kind, panel, i, filters);
      transform_filters(filters, points);
      float* dst = u + panel * kMr * g.in + i * kMr;
      for (int xi = 0; xi < kPoints; ++xi) std::copy_n(points[xi], kMr, dst + xi * stride);
    }
  }
}

void convolve(const float* src, const float* u, const float* bias, const Geometry& g, int64_t first,
              int64_t last, float* v, float* m, float* dst) {
  const int64_t chunk = chunk_tiles(g);
  for (int64_t t = first; t < last; t += chunk) {
    convolve_chunk(src, u, bias, g, t, std::min(chunk, last - t), v, m, dst);
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA::winograd
