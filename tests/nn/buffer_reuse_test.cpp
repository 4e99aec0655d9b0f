// A model's buffers across changes of batch size: once they have grown to the largest batch, an
// evaluation pass or a partial batch between training steps resizes them within their allocations.
// On a GPU that is what keeps a captured training step valid (no device memory changes hands); the
// layers and Tensor::ensure are the same on the CPU, so the CPU's allocation count shows it.
#include <gtest/gtest.h>

#include "keel/nn.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::random_tensor;

struct Batch {
  Tensor images, labels;
};

Batch batch(int64_t n, uint64_t seed) {
  std::vector<float> labels(static_cast<size_t>(n));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  return {random_tensor({n, 3, 16, 16}, seed), Tensor::from_data({n}, labels)};
}

struct Losses {
  Tensor loss, probs, dlogits;
};

void train_step(nn::Module& model, const Batch& b, Losses& l) {
  const Tensor& logits = model.forward(b.images);
  softmax_cross_entropy_forward(logits, b.labels, l.loss, l.probs);
  softmax_cross_entropy_backward(l.probs, b.labels, l.dlogits);
  model.backward(l.dlogits);
}

void evaluate(nn::Module& model, const Batch& b) {
  model.set_training(false);
  model.forward(b.images);
  model.set_training(true);
}

// Every kind of layer that keeps a view of another's buffer: saved inputs (convolution, batch
// norm, pools, linear), an in-place ReLU, a residual block, flatten, dropout in both modes and at
// p = 0 (its gradient a view too).
std::unique_ptr<nn::Sequential> model_with_every_view(Generator& gen) {
  auto net = std::make_unique<nn::Sequential>();
  net->emplace<nn::Conv2d>(gen, 3, 8, 3, 1, 1);
  net->emplace<nn::BatchNorm2d>(8);
  net->emplace<nn::ReLU>(true);
  net->emplace<nn::MaxPool2d>(2);
  net->emplace<nn::BasicBlock>(gen, 8, 16, 2);
  net->emplace<nn::AdaptiveConcatPool2d>(1);
  net->emplace<nn::Flatten>();
  net->emplace<nn::BatchNorm1d>(32);
  net->emplace<nn::Dropout>(0.25f);
  net->emplace<nn::Linear>(gen, 32, 16);
  net->emplace<nn::ReLU>(true);
  net->emplace<nn::Dropout>(0.0f);
  net->emplace<nn::Linear>(gen, 16, 2);
  net->set_input_grad(false);
  return net;
}

TEST(BufferReuse, BatchSizeChangesAllocateNothingOnceGrown) {
  Generator init(5), dropout(6);
  auto model = model_with_every_view(init);
  model->set_generator(&dropout);
  const Batch full = batch(4, 1), partial = batch(3, 2), eval = batch(6, 3);
  Losses losses;
  auto cycle = [&] {
    train_step(*model, full, losses);
    evaluate(*model, eval);  // larger than a training batch: the buffers grow the first time
    train_step(*model, full, losses);
    train_step(*model, partial, losses);
    train_step(*model, full, losses);
  };
  cycle();
  const uint64_t grown = Storage::allocations(Device::cpu);
  cycle();
  EXPECT_EQ(Storage::allocations(Device::cpu) - grown, 0u);
}

// Evaluation mode's dropout passes its input through without touching its own output buffer, so
// the next training step neither allocates one nor writes its mask into the previous layer's.
TEST(BufferReuse, DropoutPassThroughLeavesTheTrainingBufferAlone) {
  Generator gen(7);
  nn::Sequential net;
  net.emplace<nn::ReLU>();
  net.emplace<nn::Dropout>(0.5f);
  net.set_generator(&gen);
  const Tensor x = random_tensor({8, 16}, 8);
  const Tensor& y_train = net.forward(x);
  const float* train_buffer = y_train.data();
  net.set_training(false);
  const Tensor& y_eval = net.forward(x);
  const float* relu_buffer = y_eval.data();
  EXPECT_NE(relu_buffer, train_buffer);
  net.set_training(true);
  const uint64_t before = Storage::allocations(Device::cpu);
  EXPECT_EQ(net.forward(x).data(), train_buffer);
  EXPECT_EQ(Storage::allocations(Device::cpu), before);
}

}  // namespace
}  // namespace keel
