// Tensor, Shape and Storage: allocation, views and copies between devices.
// Device memory goes through the backend (keel::cuda), so this file holds no CUDA code.
#include "keel/tensor.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "backend.h"
#include "common/check.h"
#include "common/philox.h"
#include "keel/random.h"

namespace keel {

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

std::string Shape::str() const { return fmt::format("({})", fmt::join(dims_, ", ")); }

namespace {
// 64-byte alignment: full AVX-512 vectors and no false sharing between a tensor and its neighbour.
constexpr std::align_val_t kHostAlignment{64};
// By device (Device::cpu, Device::cuda). Relaxed: a statistic, ordered with nothing it counts.
std::atomic<uint64_t> g_allocations[2];
}  // namespace

uint64_t Storage::allocations(Device device) {
  return g_allocations[static_cast<int>(device)].load(std::memory_order_relaxed);
}

Storage::Storage(size_t count, Device device) : count_(count), device_(device) {
  if (count == 0) return;
  if (device == Device::cpu) {
    data_ = static_cast<float*>(::operator new[](count * sizeof(float), kHostAlignment));
  } else {
#if defined(KEEL_HAS_CUDA)
    if (!cuda::device_present()) {
      throw Error(ErrorKind::usage,
                  "no CUDA device is available (this keel has the CUDA backend, but the driver "
                  "reports no usable GPU): check nvidia-smi, or run with --device cpu");
    }
    data_ = cuda::allocate(count);
#else
    detail::throw_no_cuda_backend();
#endif
  }
  g_allocations[static_cast<int>(device)].fetch_add(1, std::memory_order_relaxed);
}

Storage::~Storage() {
  if (!data_) return;
  if (device_ == Device::cpu) {
    ::operator delete[](data_, kHostAlignment);
  } else {
#if defined(KEEL_HAS_CUDA)
    cuda::release(data_, count_);
#endif
  }
}

Tensor::Tensor(Shape shape, Device device)
    : storage_(std::make_shared<Storage>(static_cast<size_t>(shape.numel()), device)),
      shape_(std::move(shape)) {
  for (int64_t d : shape_.dims()) KEEL_CHECK(d >= 0, "negative dimension in shape {}", shape_.str());
}

Tensor Tensor::zeros(Shape shape, Device device) { return full(std::move(shape), 0.0f, device); }

Tensor Tensor::full(Shape shape, float value, Device device) {
  Tensor t(std::move(shape), device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_data(Shape shape, std::span<const float> values, Device device) {
  KEEL_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
             "from_data: {} values for shape {}", values.size(), shape.str());
  Tensor host(std::move(shape), Device::cpu);
  if (!values.empty()) std::memcpy(host.data(), values.data(), values.size() * sizeof(float));
  return host.to(device);
}

Tensor Tensor::normal(Shape shape, float mean, float stddev, Generator& gen, Device device) {
  Tensor host(std::move(shape), Device::cpu);
  const int64_t n = host.numel();
  // Box-Muller: each counter gives two normals from its four words.
  const uint64_t base = gen.reserve(static_cast<uint64_t>((n + 1) / 2));
  float* p = host.data();
  for (int64_t i = 0; i < n; i += 2) {
    philox::Words w = philox::draw(gen.seed(), base + static_cast<uint64_t>(i / 2));
    float radius = std::sqrt(-2.0f * std::log(philox::to_uniform_open0(w.w[0])));
    float angle = 6.283185307179586f * philox::to_uniform(w.w[1]);
    p[i] = mean + stddev * radius * std::cos(angle);
    if (i + 1 < n) p[i + 1] = mean + stddev * radius * std::sin(angle);
  }
  return host.to(device);
}

Tensor Tensor::uniform(Shape shape, float low, float high, Generator& gen, Device device) {
  Tensor host(std::move(shape), Device::cpu);
  const int64_t n = host.numel();
  const uint64_t base = gen.reserve(static_cast<uint64_t>((n + 3) / 4));
  float* p = host.data();
  for (int64_t i = 0; i < n; ++i) {
    philox::Words w = philox::draw(gen.seed(), base + static_cast<uint64_t>(i / 4));
    p[i] = low + (high - low) * philox::to_uniform(w.w[i % 4]);
  }
  return host.to(device);
}

Device Tensor::device() const {
  KEEL_CHECK(defined(), "device() of an undefined tensor");
  return storage_->device();
}

float* Tensor::data() const { return storage_ ? storage_->data() + offset_ : nullptr; }

Tensor Tensor::reshape(Shape shape) const {
  KEEL_CHECK(shape.numel() == numel(), "cannot reshape {} to {}", shape_.str(), shape.str());
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  KEEL_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= dim(0),
             "rows [{}, {}) out of range for shape {}", begin, end, shape_.str());
  std::vector<int64_t> dims = shape_.dims();
  const int64_t row_size = dims[0] == 0 ? 0 : numel() / dims[0];
  dims[0] = end - begin;
  Tensor view = *this;
  view.offset_ = offset_ + static_cast<size_t>(begin * row_size);
  view.shape_ = Shape(std::move(dims));
  return view;
}

Tensor Tensor::flatten() const {
  KEEL_CHECK(ndim() >= 1, "flatten of a scalar");
  const int64_t n = dim(0);
  return reshape(Shape{n, n == 0 ? 0 : numel() / n});
}

namespace {
void copy_elements(float* dst, Device dst_device, const float* src, Device src_device, size_t n) {
  if (n == 0) return;
  if (dst_device == Device::cpu && src_device == Device::cpu) {
    std::memcpy(dst, src, n * sizeof(float));
    return;
  }
#if defined(KEEL_HAS_CUDA)
  if (dst_device == Device::cuda && src_device == Device::cpu) return cuda::copy_to_device(dst, src, n);
  if (dst_device == Device::cpu && src_device == Device::cuda) return cuda::copy_to_host(dst, src, n);
  return cuda::copy_on_device(dst, src, n);
#else
  detail::throw_no_cuda_backend();
#endif
}
}  // namespace

Tensor Tensor::to(Device device) const {
  if (!defined() || this->device() == device) return *this;
  Tensor out(shape_, device);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::clone() const {
  if (!defined()) return *this;
  Tensor out(shape_, device());
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  KEEL_CHECK(defined() && src.defined() && src.numel() == numel(),
             "copy_from: cannot copy {} into {}", src.shape().str(), shape_.str());
  copy_elements(data(), device(), src.data(), src.device(), static_cast<size_t>(numel()));
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (!out.empty()) copy_elements(out.data(), Device::cpu, data(), device(), out.size());
  return out;
}

float Tensor::item() const {
  KEEL_CHECK(numel() == 1, "item() of a tensor with shape {}", shape_.str());
  return to_vector()[0];
}

void Tensor::fill_(float value) {
  const size_t n = static_cast<size_t>(numel());
  if (device() == Device::cpu) {
    std::fill(data(), data() + n, value);
    return;
  }
#if defined(KEEL_HAS_CUDA)
  cuda::fill(data(), n, value);
#endif
}

void Tensor::ensure(const Shape& shape, Device device) {
  if (defined() && this->device() == device) {
    if (shape_ == shape) return;
    // Reuse the allocation when this tensor owns all of it and it is large enough.
    if (offset_ == 0 && storage_.use_count() == 1 &&
        storage_->count() >= static_cast<size_t>(shape.numel())) {
      shape_ = shape;
      return;
    }
  }
  *this = Tensor(shape, device);
}

void expect_shape(const Tensor& t, const Shape& expected, const char* what) {
  if (!t.defined() || t.shape() != expected) {
    throw Error(ErrorKind::runtime,
                fmt::format("{}: expected shape {}, got {}", what, expected.str(),
                            t.defined() ? t.shape().str() : std::string("undefined")));
  }
}

namespace detail {
void throw_no_cuda_backend() {
  throw Error(ErrorKind::usage,
              "this keel build has no CUDA backend: rebuild with a CUDA toolkit present "
              "(cmake -DKEEL_CUDA=ON) or run with --device cpu");
}
}  // namespace detail

}  // namespace keel
