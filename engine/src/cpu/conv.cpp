// CPU 2-D convolution, forward and backward (dx, dw, db), as im2col + keel's packed GEMM.
// im2col writes the GEMM's packed panel layout directly; threads own fixed ranges of images or
// panels.
//
// The three products, with P = H'·W' output pixels per image and columns (n, pixel) in NCHW order:
//   forward  y  (K × N·P)   = w (K × C·R·S)        · im2col(x) (C·R·S × N·P)
//   weights  dw (K × C·R·S) = dy (K × N·P)         · im2col(x)ᵀ (N·P × C·R·S)
//   input    dx (C × N·H·W) = flip(w) (C × K·R·S)  · im2col(dy padded by R−1−pad)   (stride 1)
//            dcols (C·R·S × N·P) = wᵀ · dy, then col2im                             (stride > 1)
// One batched GEMM per product (columns of many images side by side) instead of one per image:
// at the flagship's 6×6 and 3×3 images a per-image GEMM has only 36 or 9 columns, too few to
// fill a register tile, while the batch gives thousands.
//
// Determinism: every output element is summed in an order fixed by the shapes alone (the GEMM's
// depth blocks, whole-image chunks), so the results are bit-identical for any thread count.
//
// The operand packing lives in conv_packing.cpp; this file partitions the work and runs the GEMMs.
#include <algorithm>
#include <climits>
#include <cstring>
#include <numeric>

#include <omp.h>

#include "common/check.h"
#include "cpu/conv_packing.h"
#include "cpu/cpu_ops.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "cpu/simd.h"
#include "cpu/winograd.h"
#include "cpu/workspace.h"
#include "keel/runtime.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {

using gemm::kMr;
using gemm::kNr;
using gemm::panels;
using namespace conv;

// The operands were checked by the op layer (op_shapes.cpp); only this backend's own limit is
// checked here.
ConvShape conv_shape(const char* op, const Tensor& x, const Tensor& w, Conv2dArgs a) {
  ConvShape g{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2),
              w.dim(3), 0,        0,        a.stride, a.padding};
  g.oh = conv_out_size(g.h, g.r, a.stride, a.padding);
  g.ow = conv_out_size(g.w, g.s, a.stride, a.padding);
  // im2col addresses elements with 32-bit vector offsets.
  KEEL_CHECK(x.numel() < INT32_MAX && g.n * g.k * g.pixels() < INT32_MAX,
             "{}: x {} or its output has 2^31 elements or more; split the batch", op,
             x.shape().str());
  return g;
}

// ---- work partition
// ------------------------------------------------------------------------------

// Per-thread column chunks are sized so the chunk's packed B and its GEMM output (~1 MiB) stay in
// the core's 2 MiB L2 cache next to the packed weights.
constexpr int64_t kChunkFloats = 256 * 1024;

int64_t max_chunk_cols(int64_t depth, int64_t rows) {
  // At least four panels even where that overflows L2 (ResNet's 512-channel layers, depth 4608):
  // the GEMM only needs one depth block of B (kc × cols) and C resident, and with a single panel
  // per chunk every 48 columns re-streamed all of the packed weights (9 MiB) from L3.
  return std::max<int64_t>(4 * kNr, kChunkFloats / (depth + rows));
}

// Calls fn(col0, cols) for the column chunks of images [n0, n1) of `total` columns: the cells of
// one grid of near-equal whole-panel chunks over all columns, fixed by the shape, cut where a
// thread's images begin or end. col2im adds each dx element's terms chunk by chunk, so a grid
// that does not move with the thread count keeps the sums bit-identical; cutting only at image
// boundaries keeps each image's terms in one thread. (Chunks of whole images instead padded a
// 7×7 or 14×14 image's 49 or 196 columns to mostly empty panels.)
template <class Fn>
void for_each_image_chunk(Range images, int64_t pixels, int64_t total, int64_t max_cols, Fn fn) {
  const int64_t begin = images.begin * pixels, end = images.end * pixels;
  if (begin >= end) return;
  const int64_t cells = panels(total, std::max(kNr, max_cols / kNr * kNr));
  const int64_t cell = gemm::round_up(panels(total, cells), kNr);
  for (int64_t c = begin; c < end;) {
    const int64_t next = std::min(end, (c / cell + 1) * cell);
    fn(c, next - c);
    c = next;
  }
}

// Thread t's columns for the gather products: whole kNr-wide panels of all N·P columns, so only
// the very last panel can be partial. Images are not kept whole: each output element is one
// full-depth dot product, computed the same way wherever its column falls.
Range column_share(int64_t columns, int t, int threads) {
  const Range p = split(panels(columns, kNr), t, threads);
  return {std::min(columns, p.begin * kNr), std::min(columns, p.end * kNr)};
}

// Winograd F(2x2, 3x3) for a 3x3, stride-1, padding-1 convolution of src (n, in, h, w) into
// (n, out, h, w) when keel::cpu_conv_algo() asks for it or, by default, where it pays
// (winograd::preferred); false where it does not apply.
bool use_winograd(const ConvShape& g, const winograd::Geometry& geometry) {
  const bool applies = g.r == 3 && g.s == 3 && g.stride == 1 && g.pad == 1 && geometry.indexable();
  switch (cpu_conv_algo()) {
    case CpuConvAlgo::im2col:
      return false;
    case CpuConvAlgo::winograd:
      return applies;
    case CpuConvAlgo::automatic:
      break;
  }
  return applies && winograd::preferred(geometry);
}

// Calls fn(col0, cols) for near-equal chunks of whole panels of `columns`, at most max_cols each.
// Cutting by panels rather than by images matters at ResNet's late layers: a 7×7 image is 49
// columns, and a chunk of one image padded to two 48-wide panels wasted half the GEMM.
template <class Fn>
void for_each_column_chunk(Range columns, int64_t max_cols, Fn fn) {
  const int64_t total = columns.end - columns.begin;
  if (total <= 0) return;
  const int64_t chunks = panels(total, std::max(kNr, max_cols / kNr * kNr));
  const int64_t chunk = gemm::round_up(panels(total, chunks), kNr);
  for (int64_t c = columns.begin; c < columns.end; c += chunk) {
    fn(c, std::min(chunk, columns.end - c));
  }
}

// dst (N, rows, H', W') (+ bias) = A (rows × depth) · im2col(src) over the column chunks of
// `columns`, for the forward pass and the stride-1 input gradient; one thread's share, with its
// own b and out buffers (sized for max_cols columns).
void gather_chunks(const float* src, const Window& g, int64_t rows, const float* a_packed,
                   const float* bias, float* dst, Range columns, int64_t max_cols, float* b,
                   float* out) {
  const int64_t depth = g.depth(), pixels = g.pixels();
  for_each_column_chunk(columns, max_cols, [&](int64_t col0, int64_t cols) {
    im2col_packed(src, g, col0, cols, b);
    gemm::multiply_packed(rows, cols, depth, a_packed, kMr * depth, b, kNr * depth, out, cols,
                          false);
    scatter_rows(out, cols, rows, pixels, col0, cols, bias, dst);
  });
}

// Output columns of dw per weight-gradient chunk: the depth of its GEMM. Fixed by the shape, so
// the chunks' partial sums add up in the same order for every thread count. At most 384, so the
// chunk's packed B (384 × 576 floats at ResNet's 64-channel 3×3 layers) is still in L2 when the
// GEMM reads it back (the measurement: notes/cpu-dispatch.md).
constexpr int64_t kWeightGradDepth = 384;

// How the weight gradient is shared: threads own panels of dw's columns (or of its rows when there
// are fewer column panels than threads), each with the full depth, so no reduction between threads.
struct WeightGradPlan {
  int64_t row_panels, col_panels, chunk;
  bool split_columns;
  size_t b_floats;  // one thread's packed B for one depth chunk
};

WeightGradPlan plan_weight_grad(const ConvShape& g, int threads) {
  WeightGradPlan p;
  p.row_panels = panels(g.k, kMr);
  p.col_panels = panels(g.crs(), kNr);
  p.split_columns = p.col_panels >= threads || p.col_panels >= p.row_panels;
  // Equal chunks: a short tail chunk would reload all of dw for little work.
  const int64_t depth = g.n * g.pixels();
  p.chunk = panels(depth, panels(depth, kWeightGradDepth));
  const int64_t b_panels = p.split_columns ? panels(p.col_panels, threads) : p.col_panels;
  p.b_floats = static_cast<size_t>(b_panels * kNr * p.chunk);
  return p;
}

// Thread t's block of dw = dy (K × N·P) · im2col(x)ᵀ, computed as dw' (K × R·S·C, channels
// fastest; see im2col_nhwc_transposed_packed) and permuted into (K, C, R, S). a_packed is dy as
// a full-depth A operand, x_nhwc the input in NHWC.
void weight_grad_block(const float* x_nhwc, const float* a_packed, const ConvShape& g,
                       const WeightGradPlan& plan, int t, int team, float* b, float* dw_rsc,
                       float* dw) {
  const int64_t crs = g.crs(), depth = g.n * g.pixels();
  const Range cols =
      plan.split_columns ? split(plan.col_panels, t, team) : Range{0, plan.col_panels};
  const Range rows =
      plan.split_columns ? Range{0, plan.row_panels} : split(plan.row_panels, t, team);
  const int64_t row0 = rows.begin * kMr, m = std::min(g.k, rows.end * kMr) - row0;
  const int64_t col0 = cols.begin * kNr, n = std::min(crs, cols.end * kNr) - col0;
  if (m <= 0 || n <= 0) return;
  for (int64_t d0 = 0; d0 < depth; d0 += plan.chunk) {
    const int64_t len = std::min(plan.chunk, depth - d0);
    im2col_nhwc_transposed_packed(x_nhwc, g, d0, len, cols.begin, cols.end, b);
    gemm::multiply_packed(m, n, len, a_packed + rows.begin * kMr * depth + d0 * kMr, kMr * depth, b,
                          kNr * len, dw_rsc + row0 * crs + col0, crs, d0 > 0);
  }
  // dw'[k][(r, s, c)] -> dw[k, c, r, s] for this block (counters, not divisions).
  const int64_t rs = g.r * g.s;
  for (int64_t k = row0; k < row0 + m; ++k) {
    int64_t c = col0 % g.c, window = col0 / g.c;
    for (int64_t index = col0; index < col0 + n; ++index) {
      dw[k * crs + c * rs + window] = dw_rsc[k * crs + index];
      if (++c == g.c) {
        c = 0;
        ++window;
      }
    }
  }
}

// dx for stride > 1 over the chunks of `images`: dcols = wᵀ · dy, then col2im into dx.
void strided_input_grad_chunks(const float* dy, const ConvShape& g, const float* a_packed,
                               Range images, int64_t max_cols, float* b, float* out, float* dx) {
  const Window win = forward_window(g);
  const int64_t crs = g.crs();
  for_each_image_chunk(
      images, g.pixels(), g.n * g.pixels(), max_cols, [&](int64_t col0, int64_t cols) {
        pack_grad_as_b(dy, g, col0, cols, b);
        gemm::multiply_packed(crs, cols, g.k, a_packed, kMr * g.k, b, kNr * g.k, out, cols, false);
        // Zero each image's dx just before the first chunk that adds into it, rather than all of a
        // thread's images up front: an image (800 KiB at 56×56×64) is then still in L2 for the
        // adds.
        for (int64_t n = panels(col0, g.pixels()); n * g.pixels() < col0 + cols; ++n) {
          std::fill(dx + n * g.c * g.h * g.w, dx + (n + 1) * g.c * g.h * g.w, 0.0f);
        }
        col2im_add(out, cols, win, col0, cols, dx);
      });
}

// db[k] = Σ_{n, p} dy[n, k, p] for channels [k0, k1). Sixteen running sums, pixel p feeding sum
// p mod 16, vectorise the adds and break the latency chain of a single float sum (which cost more
// than the GEMMs of a first layer); the order is fixed, so the result is too. With AVX-512 the
// sums live in one register and a masked load takes a plane's last p mod 16 pixels (all 9 of a
// 3×3 plane), where the array form kept them in memory and added the tail one by one.
void bias_grad(const float* dy, const ConvShape& g, Range channels, float* db) {
  constexpr int64_t kLanes = 16;
  const int64_t pixels = g.pixels(), whole = pixels / kLanes * kLanes;
  for (int64_t k = channels.begin; k < channels.end; ++k) {
    float lanes[kLanes] = {};
#if defined(__AVX512F__)
    const __mmask16 tail = static_cast<__mmask16>((1u << (pixels - whole)) - 1u);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t n = 0; n < g.n; ++n) {
      const float* row = dy + (n * g.k + k) * pixels;
      for (int64_t p = 0; p < whole; p += kLanes)
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(row + p));
      if (tail) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail, row + whole));
    }
    _mm512_storeu_ps(lanes, acc);
#elif defined(__AVX2__)
    // The same sixteen sums in two registers (pixels p mod 16 below and above 8), so the result
    // is bit for bit that of the other paths; masked loads take the tail.
    const int64_t rest = pixels - whole;
    const __m256i tail_low = first_lanes(std::min<int64_t>(rest, 8));
    const __m256i tail_high = first_lanes(std::max<int64_t>(rest - 8, 0));
    __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
    for (int64_t n = 0; n < g.n; ++n) {
      const float* row = dy + (n * g.k + k) * pixels;
      for (int64_t p = 0; p < whole; p += kLanes) {
        low = _mm256_add_ps(low, _mm256_loadu_ps(row + p));
        high = _mm256_add_ps(high, _mm256_loadu_ps(row + p + 8));
      }
      if (rest) {
        low = _mm256_add_ps(low, _mm256_maskload_ps(row + whole, tail_low));
        high = _mm256_add_ps(high, _mm256_maskload_ps(offset_ptr(row, whole + 8), tail_high));
      }
    }
    _mm256_storeu_ps(lanes, low);
    _mm256_storeu_ps(lanes + 8, high);
#else
    for (int64_t n = 0; n < g.n; ++n) {
      const float* row = dy + (n * g.k + k) * pixels;
      for (int64_t p = 0; p < whole; p += kLanes) {
        for (int64_t j = 0; j < kLanes; ++j) lanes[j] += row[p + j];
      }
      for (int64_t p = whole; p < pixels; ++p) lanes[p - whole] += row[p];
    }
#endif
    double sum = 0.0;
    for (float lane : lanes) sum += lane;
    db[k] = static_cast<float>(sum);
  }
}

// y = the Winograd convolution of x (see winograd.h): every thread transforms its share of the
// filters, then convolves its share of whole panels of tiles.
void winograd_forward(const float* x, const float* w, const float* bias,
                      const winograd::Geometry& g, float* y) {
  const int threads =
      static_cast<int>(std::clamp<int64_t>(num_threads(), 1, panels(g.tiles(), kNr)));
  const size_t v_floats = cache_line_floats(winograd::input_floats(g));
  const size_t m_floats = cache_line_floats(winograd::product_floats(g));
  float* u = scratch(ScratchSlot::packed_a, winograd::filter_floats(g));
  float* v_all = scratch(ScratchSlot::packed_b, v_floats * threads);
  float* m_all = scratch(ScratchSlot::output, m_floats * threads);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const Range mine = split(panels(g.out, kMr), t, team);
    winograd::transform_filters(w, g, winograd::Filters::forward, mine.begin, mine.end, u);
#pragma omp barrier
    const Range tiles = column_share(g.tiles(), t, team);
    winograd::convolve(x, u, bias, g, tiles.begin, tiles.end, v_all + v_floats * t,
                       m_all + m_floats * t, y);
  }
}

}  // namespace

// x: (N, C, H, W), w: (K, C, R, S), b: (K) or undefined -> y: (N, K, H', W')
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) {
  const ConvShape g = conv_shape("conv2d_forward", x, w, a);
  ensure_output(y, {g.n, g.k, g.oh, g.ow});
  if (g.n == 0) return;
  const winograd::Geometry geometry{g.n, g.c, g.k, g.h, g.w};
  if (use_winograd(g, geometry)) {
    winograd_forward(x.data(), w.data(), b.defined() ? b.data() : nullptr, geometry, y.data());
    return;
  }
  const Window win = forward_window(g);
  const int64_t crs = g.crs();
  const int threads =
      static_cast<int>(std::clamp<int64_t>(num_threads(), 1, panels(g.n * g.pixels(), kNr)));
  const int64_t max_cols = max_chunk_cols(crs, g.k);
  const size_t b_floats = cache_line_floats(gemm::packed_b_floats(crs, max_cols));
  const size_t out_floats = cache_line_floats(static_cast<size_t>(g.k * max_cols));
  float* a_packed = scratch(ScratchSlot::packed_a, gemm::packed_a_floats(g.k, crs));
  float* b_all = scratch(ScratchSlot::packed_b, b_floats * threads);
  float* out_all = scratch(ScratchSlot::output, out_floats * threads);
  const float* xp = x.data();
  const float* wp = w.data();
  const float* bp = b.defined() ? b.data() : nullptr;
  float* yp = y.data();
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const Range mine = split(panels(g.k, kMr), t, team);
    gemm::pack_a(gemm::View{wp, crs, 1}, g.k, crs, a_packed, mine.begin, mine.end);
#pragma omp barrier
    gather_chunks(xp, win, g.k, a_packed, bp, yp, column_share(g.n * g.pixels(), t, team), max_cols,
                  b_all + b_floats * t, out_all + out_floats * t);
  }
}

// dy: (N, K, H', W') -> dx: (N, C, H, W) (if dx != nullptr), dw: (K, C, R, S), db: (K) (if !=
// nullptr)
//
// One parallel region with one barrier: first every thread packs its share of the operands (dy
// for dw, x in NHWC, the weights for dx), then computes its blocks of dw, dx and db. Few
// synchronisation points matter on two cores, where each one can cost a scheduler time slice.
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db, Conv2dArgs a) {
  const ConvShape g = conv_shape("conv2d_backward", x, w, a);
  ensure_output(dw, {g.k, g.c, g.r, g.s});
  if (dx) ensure_output(*dx, {g.n, g.c, g.h, g.w});
  if (db) ensure_output(*db, {g.k});
  if (g.n == 0) {  // no image: the gradients of the weights are sums over nothing
    dw.zero_();
    if (db) db->zero_();
    return;
  }

  const int threads = std::max(1, num_threads());
  const int64_t crs = g.crs(), pixels = g.pixels(), plane = g.h * g.w;
  const WeightGradPlan wg = plan_weight_grad(g, threads);
  // The input gradient's product: stride 1 gathers from dy (A = flipped w, C × K·R·S); larger
  // strides multiply wᵀ (C·R·S × K) by dy and scatter with col2im.
  // A 3x3 stride-1 "same" convolution's input gradient, itself such a convolution of dy, may
  // run as Winograd F(2x2, 3x3) instead (dy's K channels in, x's C channels out).
  const bool gather_dx = g.stride == 1;
  const winograd::Geometry dx_geometry{g.n, g.k, g.c, g.oh, g.ow};
  const bool winograd_dx = dx && use_winograd(g, dx_geometry);
  const Window dx_window = input_grad_window(g);
  const int64_t dx_rows = gather_dx ? g.c : crs, dx_depth = gather_dx ? g.k * g.r * g.s : g.k;
  const int64_t dx_cols = max_chunk_cols(dx_depth, dx_rows);
  const size_t dx_b_floats = !dx           ? 0
                             : winograd_dx ? winograd::input_floats(dx_geometry)
                                           : gemm::packed_b_floats(dx_depth, dx_cols);
  const size_t dx_out_floats = !dx           ? 0
                               : winograd_dx ? winograd::product_floats(dx_geometry)
                                             : static_cast<size_t>(dx_rows * dx_cols);
  const size_t b_floats = cache_line_floats(std::max(wg.b_floats, dx_b_floats));
  const size_t out_floats = cache_line_floats(dx_out_floats);

  float* dy_packed = scratch(ScratchSlot::columns, gemm::packed_a_floats(g.k, g.n * pixels));
  float* x_nhwc = scratch(ScratchSlot::transposed, static_cast<size_t>(g.n * g.c * plane));
  float* dw_rsc = scratch(ScratchSlot::partial, static_cast<size_t>(g.k * crs));
  float* b_all = scratch(ScratchSlot::packed_b, b_floats * threads);
  const size_t w_floats =
      winograd_dx ? winograd::filter_floats(dx_geometry) : gemm::packed_a_floats(dx_rows, dx_depth);
  float* w_packed = dx ? scratch(ScratchSlot::packed_a, w_floats) : nullptr;
  float* out_all = dx ? scratch(ScratchSlot::output, out_floats * threads) : nullptr;
  const float* xp = x.data();
  const float* wp = w.data();
  const float* dyp = dy.data();
  float* dxp = dx ? dx->data() : nullptr;
  float* dbp = db ? db->data() : nullptr;

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const Range images = split(g.n, t, team);
    pack_grad_as_a(dyp, g, images.begin * pixels, (images.end - images.begin) * pixels, dy_packed);
    to_nhwc(xp, g, images.begin, images.end, x_nhwc);
    if (dxp) {
      const Range mine = split(panels(dx_rows, kMr), t, team);
      if (winograd_dx) {
        winograd::transform_filters(wp, dx_geometry, winograd::Filters::input_grad, mine.begin,
                                    mine.end, w_packed);
      } else if (gather_dx) {
        pack_flipped_weights(wp, g, mine.begin, mine.end, w_packed);
      } else {
        gemm::pack_a(gemm::View{wp, 1, crs}, crs, g.k, w_packed, mine.begin, mine.end);
      }
    }
#pragma omp barrier
    float* b = b_all + b_floats * t;
    weight_grad_block(x_nhwc, dy_packed, g, wg, t, team, b, dw_rsc, dw.data());
    if (dxp) {
      float* out = out_all + out_floats * t;
      if (winograd_dx) {
        const Range tiles = column_share(dx_geometry.tiles(), t, team);
        winograd::convolve(dyp, w_packed, nullptr, dx_geometry, tiles.begin, tiles.end, b, out,
                           dxp);
      } else if (gather_dx) {
        gather_chunks(dyp, dx_window, g.c, w_packed, nullptr, dxp,
                      column_share(g.n * plane, t, team), dx_cols, b, out);
      } else {
        strided_input_grad_chunks(dyp, g, w_packed, images, dx_cols, b, out, dxp);
      }
    }
    if (dbp) bias_grad(dyp, g, split(g.k, t, team), dbp);
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
