// ONNX export (see keel/io/onnx_export.h): one walk over the module tree emits a node per layer
// and an initializer per weight, tracking the activation shape for the fixed-window pools.
#include "keel/io/onnx_export.h"

#include <fmt/format.h>

#include "io/protobuf_writer.h"
#include "keel/error.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/resnet.h"
#include "keel/nn/sequential.h"
#include "keel/train/atomic_file.h"
#include "keel/version.h"

namespace keel {

namespace {

using io::detail::ProtoWriter;

// onnx.proto field numbers and enum values used below.
constexpr int64_t kIrVersion = 7;  // the IR of opset 13
constexpr int64_t kOpset = 13;
constexpr int64_t kFloat = 1;  // TensorProto.DataType.FLOAT
enum AttributeType { kAttrFloat = 1, kAttrInt = 2, kAttrInts = 7 };

struct Attribute {
  std::string name;
  AttributeType type;
  float f = 0;
  std::vector<int64_t> ints;  // one value for kAttrInt
};

Attribute ints(const std::string& name, std::vector<int64_t> values) {
  return {name, kAttrInts, 0, std::move(values)};
}
Attribute one_int(const std::string& name, int64_t value) {
  return {name, kAttrInt, 0, {value}};
}
Attribute one_float(const std::string& name, float value) {
  return {name, kAttrFloat, value, {}};
}

// Activation shape between layers: (C, H, W) while spatial, (features) after flattening.
struct ActShape {
  int64_t c = 0, h = 0, w = 0;
  bool spatial = true;
};

int64_t window_out(int64_t in, int kernel, int stride, int padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

class GraphBuilder {
 public:
  // Adds a node; its output is `output`, or a fresh name when empty. Returns the output.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<Attribute>& attributes = {}, std::string output = "") {
    if (output.empty()) output = fmt::format("t{}", next_);
    ProtoWriter n;
    for (const std::string& in : inputs) n.bytes_field(1, in);
    n.bytes_field(2, output);
    n.bytes_field(3, fmt::format("{}_{}", op, next_++));
    n.bytes_field(4, op);
    for (const Attribute& a : attributes) n.message_field(5, attribute(a));
    nodes_.push_back(n);
    return output;
  }

  void initializer(const std::string& name, const Tensor& t) {
    ProtoWriter tensor;
    tensor.int_fields(1, t.shape().dims());
    tensor.int_field(2, kFloat);
    tensor.bytes_field(8, name);
    const std::vector<float> values = t.to_vector();
    tensor.bytes_field(9, std::string_view(reinterpret_cast<const char*>(values.data()),
                                           values.size() * sizeof(float)));
    initializers_.push_back(tensor);
  }

  ProtoWriter graph(const ProtoWriter& input, const std::vector<ProtoWriter>& outputs) const {
    ProtoWriter g;
    for (const ProtoWriter& n : nodes_) g.message_field(1, n);
    g.bytes_field(2, "keel");
    for (const ProtoWriter& t : initializers_) g.message_field(5, t);
    g.message_field(11, input);
    for (const ProtoWriter& o : outputs) g.message_field(12, o);
    return g;
  }

 private:
  static ProtoWriter attribute(const Attribute& a) {
    ProtoWriter w;
    w.bytes_field(1, a.name);
    if (a.type == kAttrFloat) w.float_field(2, a.f);
    if (a.type == kAttrInt) w.int_field(3, a.ints.front());
    if (a.type == kAttrInts) w.int_fields(8, a.ints);
    w.int_field(20, a.type);
    return w;
  }

  std::vector<ProtoWriter> nodes_, initializers_;
  int next_ = 0;
};

[[noreturn]] void no_onnx_form(const std::string& what) {
  throw Error(ErrorKind::usage, fmt::format("export_onnx: {} has no ONNX form in keel's exporter; "
                                            "export a model without it",
                                            what));
}

class Exporter {
 public:
  explicit Exporter(GraphBuilder& g) : g_(g) {}

  // Emits module `m` (named `prefix`) applied to `x`; returns its output and updates `shape`.
  std::string emit(nn::Module& m, const std::string& prefix, const std::string& x,
                   ActShape& shape) {
    if (auto* s = dynamic_cast<nn::Sequential*>(&m)) return sequential(*s, prefix, x, shape);
    if (auto* b = dynamic_cast<nn::BasicBlock*>(&m)) return basic_block(*b, prefix, x, shape);
    if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) return conv(*c, prefix, x, shape);
    if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m)) return batch_norm(*bn, prefix, x);
    if (auto* l = dynamic_cast<nn::Linear*>(&m)) return linear(*l, prefix, x, shape);
    if (dynamic_cast<nn::ReLU*>(&m)) return g_.node("Relu", {x});
    if (dynamic_cast<nn::Dropout*>(&m)) return x;  // identity in evaluation mode
    if (dynamic_cast<nn::Flatten*>(&m)) {
      shape = {shape.c * shape.h * shape.w, 1, 1, false};
      return g_.node("Flatten", {x}, {one_int("axis", 1)});
    }
    return pool(m, x, shape);
  }

 private:
  std::string sequential(nn::Sequential& s, const std::string& prefix, const std::string& x,
                         ActShape& shape) {
    std::string out = x;
    for (size_t i = 0; i < s.size(); ++i)
      out = emit(s[i], fmt::format("{}{}.", prefix, i), out, shape);
    return out;
  }

  std::string basic_block(nn::BasicBlock& b, const std::string& prefix, const std::string& x,
                          ActShape& shape) {
    std::vector<nn::Module*> parts;
    b.visit_children([&](nn::Module& child) { parts.push_back(&child); });
    ActShape main_shape = shape, short_shape = shape;
    std::string y = emit(*parts[0], prefix + "conv1.", x, main_shape);
    y = g_.node("Relu", {emit(*parts[1], prefix + "bn1.", y, main_shape)});
    y = emit(*parts[2], prefix + "conv2.", y, main_shape);
    y = emit(*parts[3], prefix + "bn2.", y, main_shape);
    const std::string shortcut =
        parts.size() > 4 ? emit(*parts[4], prefix + "downsample.", x, short_shape) : x;
    shape = main_shape;
    return g_.node("Relu", {g_.node("Add", {y, shortcut})});
  }

  std::string conv(nn::Conv2d& c, const std::string& prefix, const std::string& x,
                   ActShape& shape) {
    g_.initializer(prefix + "weight", c.weight().value);
    std::vector<std::string> inputs{x, prefix + "weight"};
    if (c.bias()) {
      g_.initializer(prefix + "bias", c.bias()->value);
      inputs.push_back(prefix + "bias");
    }
    const int k = c.kernel(), s = c.args().stride, p = c.args().padding;
    shape = {c.out_channels(), window_out(shape.h, k, s, p), window_out(shape.w, k, s, p), true};
    return g_.node(
        "Conv", inputs,
        {ints("kernel_shape", {k, k}), ints("strides", {s, s}), ints("pads", {p, p, p, p})});
  }

  std::string batch_norm(nn::BatchNorm& bn, const std::string& prefix, const std::string& x) {
    g_.initializer(prefix + "weight", bn.weight().value);
    g_.initializer(prefix + "bias", bn.bias().value);
    g_.initializer(prefix + "running_mean", bn.running_mean());
    g_.initializer(prefix + "running_var", bn.running_var());
    return g_.node(
        "BatchNormalization",
        {x, prefix + "weight", prefix + "bias", prefix + "running_mean", prefix + "running_var"},
        {one_float("epsilon", bn.eps())});
  }

  std::string linear(nn::Linear& l, const std::string& prefix, const std::string& x,
                     ActShape& shape) {
    g_.initializer(prefix + "weight", l.weight().value);
    std::vector<std::string> inputs{x, prefix + "weight"};
    if (l.bias()) {
      g_.initializer(prefix + "bias", l.bias()->value);
      inputs.push_back(prefix + "bias");
    }
    shape = {l.out_features(), 1, 1, false};
    return g_.node("Gemm", inputs, {one_int("transB", 1)});
  }

  // A fixed window that gives `out` x `out` from the current size, for the adaptive pools.
  std::vector<Attribute> adaptive_window(int64_t out_h, int64_t out_w, const ActShape& shape,
                                         const char* what) {
    if (shape.h % out_h != 0 || shape.w % out_w != 0) {
      no_onnx_form(fmt::format("{} from {}x{} to {}x{} (sizes that do not divide)", what, shape.h,
                               shape.w, out_h, out_w));
    }
    const int64_t kh = shape.h / out_h, kw = shape.w / out_w;
    return {ints("kernel_shape", {kh, kw}), ints("strides", {kh, kw})};
  }

  std::string adaptive(const char* global_op, const char* window_op, int64_t out_h, int64_t out_w,
                       const std::string& x, ActShape& shape) {
    if (out_h == 1 && out_w == 1) {
      shape.h = shape.w = 1;
      return g_.node(global_op, {x});
    }
    const std::vector<Attribute> window = adaptive_window(out_h, out_w, shape, window_op);
    shape.h = out_h;
    shape.w = out_w;
    return g_.node(window_op, {x}, window);
  }

  std::string fixed_pool(const char* op, Pool2dArgs a, const std::string& x, ActShape& shape,
                         bool count_pad) {
    shape.h = window_out(shape.h, a.kernel, a.stride, a.padding);
    shape.w = window_out(shape.w, a.kernel, a.stride, a.padding);
    std::vector<Attribute> attributes{ints("kernel_shape", {a.kernel, a.kernel}),
                                      ints("strides", {a.stride, a.stride}),
                                      ints("pads", {a.padding, a.padding, a.padding, a.padding})};
    if (count_pad) attributes.push_back(one_int("count_include_pad", 1));  // keel divides by k*k
    return g_.node(op, {x}, attributes);
  }

  std::string pool(nn::Module& m, const std::string& x, ActShape& shape) {
    if (auto* p = dynamic_cast<nn::MaxPool2d*>(&m))
      return fixed_pool("MaxPool", p->args(), x, shape, false);
    if (auto* p = dynamic_cast<nn::AvgPool2d*>(&m))
      return fixed_pool("AveragePool", p->args(), x, shape, true);
    if (auto* p = dynamic_cast<nn::AdaptiveAvgPool2d*>(&m)) {
      return adaptive("GlobalAveragePool", "AveragePool", p->out_h(), p->out_w(), x, shape);
    }
    if (auto* p = dynamic_cast<nn::AdaptiveMaxPool2d*>(&m)) {
      return adaptive("GlobalMaxPool", "MaxPool", p->out_h(), p->out_w(), x, shape);
    }
    if (auto* p = dynamic_cast<nn::AdaptiveConcatPool2d*>(&m)) {
      ActShape max_shape = shape;
      const std::string mx = adaptive("GlobalMaxPool", "MaxPool", p->out(), p->out(), x, max_shape);
      const std::string av =
          adaptive("GlobalAveragePool", "AveragePool", p->out(), p->out(), x, shape);
      shape.c *= 2;
      return g_.node("Concat", {mx, av}, {one_int("axis", 1)});  // max first, as fastai
    }
    no_onnx_form(m.describe());
  }

  GraphBuilder& g_;
};

ProtoWriter value_info(const std::string& name, const std::vector<int64_t>& fixed_dims) {
  ProtoWriter shape;
  ProtoWriter batch;
  batch.bytes_field(2, "batch");  // dim_param: a symbolic, dynamic size
  shape.message_field(1, batch);
  for (int64_t d : fixed_dims) {
    ProtoWriter dim;
    dim.int_field(1, d);
    shape.message_field(1, dim);
  }
  ProtoWriter tensor_type;
  tensor_type.int_field(1, kFloat);
  tensor_type.message_field(2, shape);
  ProtoWriter type;
  type.message_field(1, tensor_type);
  ProtoWriter info;
  info.bytes_field(1, name);
  info.message_field(2, type);
  return info;
}

}  // namespace

std::string onnx_model_bytes(nn::Module& model, const Shape& input_chw) {
  return onnx_model_bytes(std::vector<nn::Module*>{&model}, input_chw);
}

std::string onnx_model_bytes(const std::vector<nn::Module*>& networks, const Shape& input_chw) {
  if (input_chw.ndim() != 3) {
    throw Error(ErrorKind::usage,
                fmt::format("export_onnx: the input shape is (C, H, W), got {}", input_chw.str()));
  }
  if (networks.empty()) throw Error(ErrorKind::usage, "export_onnx: no network to export");
  GraphBuilder g;
  Exporter exporter(g);
  std::vector<std::string> member_logits;
  int64_t classes = 0;
  for (size_t j = 0; j < networks.size(); ++j) {
    ActShape shape{input_chw[0], input_chw[1], input_chw[2], true};
    const std::string prefix = networks.size() > 1 ? fmt::format("model{}.", j) : "";
    member_logits.push_back(exporter.emit(*networks[j], prefix, "input", shape));
    if (shape.spatial)
      no_onnx_form("a model whose output is an image (it must end in flattened class scores)");
    if (j > 0 && shape.c != classes) {
      throw Error(ErrorKind::usage,
                  fmt::format("export_onnx: the networks of an ensemble must score the same "
                              "classes; network 1 gives {}, network {} gives {}",
                              classes, j + 1, shape.c));
    }
    classes = shape.c;
  }
  if (networks.size() == 1) {
    g.node("Identity", {member_logits[0]}, {}, "logits");
    g.node("Softmax", {member_logits[0]}, {one_int("axis", 1)}, "probabilities");
  } else {
    std::vector<std::string> member_probs;
    for (const std::string& logits : member_logits)
      member_probs.push_back(g.node("Softmax", {logits}, {one_int("axis", 1)}));
    g.node("Mean", member_probs, {}, "probabilities");
    g.node("Log", {"probabilities"}, {}, "logits");
  }
  const std::vector<int64_t> in_dims{input_chw[0], input_chw[1], input_chw[2]};
  const ProtoWriter graph =
      g.graph(value_info("input", in_dims),
              {value_info("logits", {classes}), value_info("probabilities", {classes})});
  ProtoWriter opset;
  opset.bytes_field(1, "");
  opset.int_field(2, kOpset);
  ProtoWriter m;
  m.int_field(1, kIrVersion);
  m.bytes_field(2, "keel");
  m.bytes_field(3, keel::version());
  m.message_field(7, graph);
  m.message_field(8, opset);
  return m.bytes();
}

void export_onnx(nn::Module& model, const Shape& input_chw, const std::string& path) {
  train::write_file_atomically(path, onnx_model_bytes(model, input_chw));
}

void export_onnx(const std::vector<nn::Module*>& networks, const Shape& input_chw,
                 const std::string& path) {
  train::write_file_atomically(path, onnx_model_bytes(networks, input_chw));
}

}  // namespace keel
