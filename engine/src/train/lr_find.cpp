// The learning-rate range test. The loop is its own (not Trainer's): the learning rate is set every
// step and nothing is validated, checkpointed or kept.
#include "keel/train/lr_find.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include <fmt/format.h>

#include "keel/ops.h"
#include "keel/runtime.h"
#include "keel/train/input_pipeline.h"

namespace keel::train {

namespace {

std::vector<float> shuffled_rows(int64_t n, Generator& gen) {
  std::vector<float> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0.0f);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)],
              order[static_cast<size_t>(gen.next_below(static_cast<uint64_t>(i + 1)))]);
  }
  return order;
}

}  // namespace

LrFindResult lr_find(const TrainerOptions& trainer, nn::Sequential& model,
                     const LabelledImages& train, Device device, uint64_t seed,
                     const LrFindOptions& options) {
  Generator gen(seed), dropout_gen(seed + 1);
  model.to(device);
  model.set_generator(&dropout_gen);
  model.set_training(true);
  validate(trainer);
  auto optimizer = make_optimizer(trainer.optimizer, model.parameters());
  InputPipeline pipeline(trainer.input, device);
  const int64_t batch = std::min<int64_t>(trainer.train.batch_size, train.size());
  LrFindResult r;
  double average = 0.0, best = INFINITY;
  std::vector<float> order;
  Tensor batch_images, batch_labels, loss, probs, dlogits;
  const int64_t steps_per_epoch = train.size() / batch;
  for (int step = 0; step < options.steps; ++step) {
    const int64_t begin = (step % steps_per_epoch) * batch;
    if (begin == 0) order = shuffled_rows(train.size(), gen);
    const Tensor idx = Tensor::from_data(
        {batch}, std::vector<float>(order.begin() + begin, order.begin() + begin + batch), device);
    gather_rows(train.images, idx, batch_images);
    gather_rows(train.labels, idx, batch_labels);
    const double t = options.steps > 1 ? static_cast<double>(step) / (options.steps - 1) : 0.0;
    const double lr = options.start_lr * std::pow(options.end_lr / options.start_lr, t);
    optimizer->set_lr(lr);
    const Tensor& logits = model.forward(pipeline.train_input(batch_images, gen));
    softmax_cross_entropy_forward(logits, batch_labels, loss, probs);
    softmax_cross_entropy_backward(probs, batch_labels, dlogits);
    model.backward(dlogits);
    optimizer->step();
    const double value = loss.item();
    average = options.smoothing * average + (1 - options.smoothing) * value;
    const double smoothed = average / (1 - std::pow(options.smoothing, step + 1));
    if (!std::isfinite(smoothed) || (step > 0 && smoothed > options.stop_factor * best)) {
      r.stopped_early = true;
      break;
    }
    r.lrs.push_back(lr);
    r.losses.push_back(smoothed);
    if (smoothed < best) {
      best = smoothed;
      r.min_loss_lr = lr;
    }
  }
  const int steepest = steepest_descent(r.lrs, r.losses);
  r.suggested_lr = steepest >= 0 ? r.lrs[static_cast<size_t>(steepest)] : r.min_loss_lr;
  return r;
}

int steepest_descent(const std::vector<double>& lrs, const std::vector<double>& losses) {
  const int n = static_cast<int>(std::min(lrs.size(), losses.size()));
  if (n < 5) return -1;
  const int skip = std::max(1, n / 10);
  int best = -1;
  double best_slope = INFINITY;
  for (int i = skip; i < n - skip; ++i) {
    const double slope =
        (losses[static_cast<size_t>(i + 1)] - losses[static_cast<size_t>(i - 1)]) /
        (std::log(lrs[static_cast<size_t>(i + 1)]) - std::log(lrs[static_cast<size_t>(i - 1)]));
    if (slope < best_slope) {
      best_slope = slope;
      best = i;
    }
  }
  return best;
}

std::string lr_find_svg(const LrFindResult& r) {
  constexpr double w = 560, h = 300, left = 60, right = 20, top = 20, bottom = 40;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n",
      w, h);
  if (r.lrs.size() < 2) return svg + "<text x=\"20\" y=\"40\">too few steps to draw</text></svg>\n";
  const double x0 = std::log10(r.lrs.front()), x1 = std::log10(r.lrs.back());
  const double y0 = *std::min_element(r.losses.begin(), r.losses.end());
  const double y1 = *std::max_element(r.losses.begin(), r.losses.end());
  auto px = [&](double lr) {
    return left + (std::log10(lr) - x0) / (x1 - x0) * (w - left - right);
  };
  auto py = [&](double l) {
    return top + (y1 - l) / std::max(y1 - y0, 1e-12) * (h - top - bottom);
  };
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n", left,
      top, w - left - right, h - top - bottom);
  for (int e = static_cast<int>(std::ceil(x0)); e <= static_cast<int>(std::floor(x1)); ++e) {
    const double x = px(std::pow(10.0, e));
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">1e{}</text>\n", x,
                       h - 22, e);
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">learning rate (log scale)</text>\n",
      (w + left) / 2, h - 6);
  svg += fmt::format(
      "<text x=\"4\" y=\"{:.1f}\">{:.3f}</text><text x=\"4\" y=\"{:.1f}\">{:.3f}</text>\n",
      py(y1) + 4, y1, py(y0), y0);
  std::string points;
  for (size_t i = 0; i < r.lrs.size(); ++i)
    points += fmt::format("{:.1f},{:.1f} ", px(r.lrs[i]), py(r.losses[i]));
  svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"" + points +
         "\"/>\n";
  const double sx = px(r.suggested_lr);
  svg += fmt::format(
      "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#d62728\" "
      "stroke-dasharray=\"4 3\"/><text x=\"{3:.1f}\" y=\"{4}\" fill=\"#d62728\">"
      "suggested {5:.2e}</text>\n",
      sx, top, h - bottom, sx + 4, top + 14, r.suggested_lr);
  return svg + "</svg>\n";
}

}  // namespace keel::train
