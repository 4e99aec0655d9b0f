// cuDNN convolution: descriptors and algorithms chosen once per shape (cudnnFind*, which times the
// candidates on this card) and cached; workspaces come from keel's caching allocator. TF32 is
// excluded (CUDNN_FMA_MATH) unless keel::allow_tf32(); deterministic mode keeps only algorithms
// cuDNN reports as deterministic.
#include <map>
#include <mutex>
#include <tuple>

#include <fmt/format.h>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cudnn/check.h"
#include "cudnn/cudnn_ops.h"
#include "cudnn/handle.h"
#include "keel/error.h"
#include "keel/runtime.h"

namespace keel::cudnn {

namespace detail {
void throw_cudnn_error(cudnnStatus_t status, const char* statement, const char* file, int line) {
  throw Error(ErrorKind::runtime,
              fmt::format("cuDNN error {} in `{}` at {}:{}", cudnnGetErrorString(status), statement, file, line));
}
}  // namespace detail

namespace {

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, bool, bool>;

struct ConvEntry {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  bool have_fwd = false, have_bwd_data = false, have_bwd_filter = false;
  cudnnConvolutionFwdAlgoPerf_t fwd{};
  cudnnConvolutionBwdDataAlgoPerf_t bwd_data{};
  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter{};
};

// A candidate is usable when it ran, fits the determinism setting and its workspace is sane.
template <typename Perf>
Perf pick(const Perf* perfs, int count, const char* what) {
  constexpr size_t kMaxWorkspace = size_t{2} << 30;
  for (int i = 0; i < count; ++i) {
    if (perfs[i].status != CUDNN_STATUS_SUCCESS || perfs[i].memory > kMaxWorkspace) continue;
    if (keel::deterministic() && perfs[i].determinism != CUDNN_DETERMINISTIC) continue;
    return perfs[i];
  }
  throw Error(ErrorKind::runtime, fmt::format("cuDNN found no usable {} algorithm for this shape{}", what,
                                              keel::deterministic() ? " in deterministic mode" : ""));
}

ConvEntry& entry_for(const Tensor& x, const Tensor& w, Conv2dArgs a) {
  static std::mutex mutex;
  static std::map<Key, ConvEntry>* cache = new std::map<Key, ConvEntry>();  // lives for the process
  const bool tf32 = keel::allow_tf32();
  const Key key{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), a.stride, a.padding,
                tf32, keel::deterministic()};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  ConvEntry e;
  const int n = static_cast<int>(x.dim(0)), c = static_cast<int>(x.dim(1)), h = static_cast<int>(x.dim(2)),
            wd = static_cast<int>(x.dim(3)), k = static_cast<int>(w.dim(0));
  KEEL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e.x));
  KEEL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, wd));
  KEEL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&e.w));
  KEEL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(e.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c,
                                              static_cast<int>(w.dim(2)), static_cast<int>(w.dim(3))));
  KEEL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&e.conv));
  // keel's convolution is a cross-correlation, like every framework's "convolution".
  KEEL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(e.conv, a.padding, a.padding, a.stride, a.stride, 1, 1,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  KEEL_CUDNN_CHECK(cudnnSetConvolutionMathType(e.conv, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  int on = 0, oc = 0, oh = 0, ow = 0;
  KEEL_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(e.conv, e.x, e.w, &on, &oc, &oh, &ow));
  KEEL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e.y));
  KEEL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, on, oc, oh, ow));
  KEEL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e.bias));
  KEEL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, k, 1, 1));
  return cache->emplace(key, e).first->second;
}

// The chosen algorithm's math type, or FMA when TF32 is not allowed.
void set_math(const ConvEntry& e, cudnnMathType_t chosen) {
  KEEL_CUDNN_CHECK(cudnnSetConvolutionMathType(e.conv, keel::allow_tf32() ? chosen : CUDNN_FMA_MATH));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) {
  cudnnHandle_t h = handle();
  ConvEntry& e = entry_for(x, w, a);
  if (!e.have_fwd) {
    cudnnConvolutionFwdAlgoPerf_t perfs[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    KEEL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, e.x, e.w, e.conv, e.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perfs));
    e.fwd = pick(perfs, found, "forward convolution");
    e.have_fwd = true;
  }
  set_math(e, e.fwd.mathType);
  cuda::Scratch workspace(e.fwd.memory);
  const float one = 1.0f, zero = 0.0f;
  KEEL_CUDNN_CHECK(cudnnConvolutionForward(h, &one, e.x, x.data(), e.w, w.data(), e.conv, e.fwd.algo,
                                           workspace.as<void>(), workspace.bytes(), &zero, e.y, y.data()));
  if (b.defined()) KEEL_CUDNN_CHECK(cudnnAddTensor(h, &one, e.bias, b.data(), &one, e.y, y.data()));
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw, Conv2dArgs a) {
  cudnnHandle_t h = handle();
  ConvEntry& e = entry_for(x, w, a);
  const float one = 1.0f, zero = 0.0f;
  if (!e.have_bwd_filter) {
    cudnnConvolutionBwdFilterAlgoPerf_t perfs[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int found = 0;
    KEEL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
        h, e.x, e.y, e.conv, e.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &found, perfs));
    e.bwd_filter = pick(perfs, found, "backward-filter convolution");
    e.have_bwd_filter = true;
  }
  set_math(e, e.bwd_filter.mathType);
  {
    cuda::Scratch workspace(e.bwd_filter.memory);
    KEEL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, e.x, x.data(), e.y, dy.data(), e.conv,
                                                    e.bwd_filter.algo, workspace.as<void>(), workspace.bytes(),
                                                    &zero, e.w, dw.data()));
  }
  if (!dx) return;
  if (!e.have_bwd_data) {
    cudnnConvolutionBwdDataAlgoPerf_t perfs[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int found = 0;
    KEEL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, e.w, e.y, e.conv, e.x,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found, perfs));
    e.bwd_data = pick(perfs, found, "backward-data convolution");
    e.have_bwd_data = true;
  }
  set_math(e, e.bwd_data.mathType);
  cuda::Scratch workspace(e.bwd_data.memory);
  KEEL_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, e.w, w.data(), e.y, dy.data(), e.conv, e.bwd_data.algo,
                                                workspace.as<void>(), workspace.bytes(), &zero, e.x, dx->data()));
}

}  // namespace keel::cudnn
