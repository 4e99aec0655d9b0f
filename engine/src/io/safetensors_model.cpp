// A model's parameters and buffers to and from safetensors under PyTorch's state_dict names:
// strict by default, every name and shape checked before any weight changes.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "keel/error.h"
#include "keel/io/safetensors.h"

namespace keel {

namespace {

// The model's tensors by name: parameters' values and buffers.
std::map<std::string, Tensor*> model_tensors(nn::Module& model) {
  std::map<std::string, Tensor*> out;
  model.visit_parameters("",
                         [&](const std::string& name, nn::Parameter& p) { out[name] = &p.value; });
  model.visit_buffers("", [&](const std::string& name, Tensor& b) { out[name] = &b; });
  return out;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

std::string renamed(const std::string& name, const WeightLoadOptions& options) {
  for (const auto& [from, to] : options.renames) {
    if (starts_with(name, from)) return to + name.substr(from.size());
  }
  return name;
}

bool is_optional(const std::string& name, const WeightLoadOptions& options) {
  return std::any_of(options.optional_prefixes.begin(), options.optional_prefixes.end(),
                     [&](const std::string& prefix) { return starts_with(name, prefix); });
}

// PyTorch's batch norms count their batches; keel's do not, so the count is accepted and unused.
bool is_batch_count(const std::string& name, const std::map<std::string, Tensor*>& model) {
  const std::string suffix = "num_batches_tracked";
  if (name.size() < suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  return model.count(name.substr(0, name.size() - suffix.size()) + "running_mean") > 0;
}

std::string listed(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 8);
  std::vector<std::string> head(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(shown));
  std::string text = fmt::format("`{}`", fmt::join(head, "`, `"));
  if (names.size() > shown) text += fmt::format(" and {} more", names.size() - shown);
  return text;
}

// The file's tensors under model names, with the names the model does not have.
struct Matched {
  std::map<std::string, const Tensor*> by_model_name;
  std::vector<std::string> unexpected;
};

Matched match_names(const SafetensorsFile& file, const std::map<std::string, Tensor*>& model,
                    const WeightLoadOptions& options) {
  Matched m;
  for (const auto& [file_name, tensor] : file.tensors) {
    const std::string name = renamed(file_name, options);
    if (model.count(name)) {
      m.by_model_name[name] = &tensor;
    } else if (!is_batch_count(name, model)) {
      m.unexpected.push_back(name);
    }
  }
  return m;
}

void refuse_unexpected(const SafetensorsFile& file, const std::vector<std::string>& unexpected) {
  throw Error(
      ErrorKind::data,
      fmt::format("{}: {} tensor(s) in the file have no counterpart in the model: {}. Check "
                  "that the file was written for this architecture, or skip them "
                  "(WeightLoadOptions::ignore_unexpected)",
                  file.source, unexpected.size(), listed(unexpected)));
}

void refuse_missing(const SafetensorsFile& file, const std::vector<std::string>& missing) {
  throw Error(ErrorKind::data,
              fmt::format("{}: {} model tensor(s) are not in the file: {}. Check that the file was "
                          "written for this architecture, or keep their current values "
                          "(WeightLoadOptions::allow_missing)",
                          file.source, missing.size(), listed(missing)));
}

void refuse_shape(const SafetensorsFile& file, const std::string& name, const Tensor& in_file,
                  const Tensor& in_model) {
  throw Error(ErrorKind::data,
              fmt::format("{}: tensor `{}` has shape {} in the file but {} in the model: the file "
                          "was written for another architecture or size (number of classes, "
                          "input channels, widths)",
                          file.source, name, in_file.shape().str(), in_model.shape().str()));
}

}  // namespace

void save_safetensors(nn::Module& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, tensor] : model_tensors(model)) tensors[name] = *tensor;
  write_safetensors(path, tensors, metadata);
}

WeightLoadReport load_safetensors(nn::Module& model, const SafetensorsFile& file,
                                  const WeightLoadOptions& options) {
  const std::map<std::string, Tensor*> targets = model_tensors(model);
  Matched matched = match_names(file, targets, options);
  WeightLoadReport report;
  report.unexpected = matched.unexpected;
  if (!options.ignore_unexpected && !matched.unexpected.empty())
    refuse_unexpected(file, matched.unexpected);
  std::vector<std::string> missing;
  std::vector<std::pair<Tensor*, const Tensor*>> copies;
  for (const auto& [name, target] : targets) {
    auto it = matched.by_model_name.find(name);
    const bool fits = it != matched.by_model_name.end() && it->second->shape() == target->shape();
    if (fits) {
      copies.emplace_back(target, it->second);
      report.loaded.push_back(name);
    } else if (is_optional(name, options)) {
      report.kept.push_back(name);
    } else if (it != matched.by_model_name.end()) {
      refuse_shape(file, name, *it->second, *target);
    } else {
      missing.push_back(name);
    }
  }
  if (!missing.empty() && !options.allow_missing) refuse_missing(file, missing);
  report.kept.insert(report.kept.end(), missing.begin(), missing.end());
  for (auto& [target, source] : copies) target->copy_from(*source);
  return report;
}

WeightLoadReport load_safetensors(nn::Module& model, const std::string& path,
                                  const WeightLoadOptions& options) {
  return load_safetensors(model, read_safetensors(path), options);
}

}  // namespace keel
