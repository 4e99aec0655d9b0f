// Tensor: a dense float32 array in NCHW order on the CPU or a CUDA device, with shared storage.
// Views (reshape, rows) share storage with their source; every tensor is contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace keel {

enum class Device { cpu, cuda };
const char* device_name(Device d);

class Generator;

// Dimensions, outermost first: (N, C, H, W) for images, (N, F) for features.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int ndim() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_.at(static_cast<size_t>(i < 0 ? i + ndim() : i)); }
  int64_t numel() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  bool operator==(const Shape& other) const = default;
  std::string str() const;  // "(64, 32, 6, 6)"

 private:
  std::vector<int64_t> dims_;
};

// Owns one allocation on one device; tensors and their views hold it through shared_ptr.
class Storage {
 public:
  Storage(size_t count, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() const { return data_; }
  size_t count() const { return count_; }
  Device device() const { return device_; }

  // Allocations made so far on `device`, process-wide. A loop that has warmed up adds none, which
  // is how tests see that a change of batch size resized the buffers instead of replacing them.
  static uint64_t allocations(Device device);

 private:
  float* data_ = nullptr;
  size_t count_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage; used for "no bias", "no gradient wanted"
  Tensor(Shape shape, Device device = Device::cpu);  // uninitialised contents

  static Tensor zeros(Shape shape, Device device = Device::cpu);
  static Tensor full(Shape shape, float value, Device device = Device::cpu);
  static Tensor from_data(Shape shape, std::span<const float> values, Device device = Device::cpu);
  // Seeded random tensors; the same generator state gives the same values on every device.
  static Tensor normal(Shape shape, float mean, float stddev, Generator& gen,
                       Device device = Device::cpu);
  static Tensor uniform(Shape shape, float low, float high, Generator& gen,
                        Device device = Device::cpu);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  Device device() const;
  bool is_cuda() const { return defined() && device() == Device::cuda; }

  // Raw element pointer: host memory for cpu tensors, device memory for cuda tensors.
  float* data() const;

  // Views sharing storage.
  Tensor reshape(Shape shape) const;
  Tensor rows(int64_t begin, int64_t end) const;  // slice along dim 0
  Tensor flatten() const;                          // (N, ...) -> (N, rest)

  // Copies.
  Tensor to(Device device) const;  // same device: returns *this (a view, no copy)
  Tensor clone() const;
  void copy_from(const Tensor& src);  // shapes must have equal numel; devices may differ
  std::vector<float> to_vector() const;
  float item() const;  // the single element of a one-element tensor

  void fill_(float value);
  void zero_() { fill_(0.0f); }

  // Makes this tensor an allocation of `shape` on `device`, reusing storage when it already is
  // one. Ops call it on their outputs, so a training loop allocates only in its first step.
  void ensure(const Shape& shape, Device device);

  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
};

// Throws keel::Error naming `what` unless t has the expected shape.
void expect_shape(const Tensor& t, const Shape& expected, const char* what);

}  // namespace keel
