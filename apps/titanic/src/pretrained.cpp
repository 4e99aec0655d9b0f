// model.pretrained (see titanic/pretrained.h): which names are the body and which the head,
// and the file read once, so every member of an ensemble starts from the same weights.
#include "titanic/pretrained.h"

#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/io/sha256.h"
#include "keel/nn/resnet.h"

namespace keel::train {

namespace {

struct CachedFile {
  SafetensorsFile file;
  std::string sha256;
};

const CachedFile& cached(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CachedFile>> files;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = files[path];
  if (!slot)
    slot = std::make_unique<CachedFile>(CachedFile{read_safetensors(path), sha256_file(path)});
  return *slot;
}

bool is_resnet(const Config& config) {
  return config.model.arch == "resnet34" || config.model.arch == "resnet18";
}

bool has_torchvision_names(const SafetensorsFile& file) {
  return file.tensors.count("conv1.weight") > 0 && file.tensors.count("layer1.0.conv1.weight") > 0;
}

WeightLoadOptions options_for(const Config& config, const SafetensorsFile& file,
                              nn::Sequential& model) {
  WeightLoadOptions options;
  // The head: resnet_classifier's child "1", or the last layer of a layer list (the classifier).
  options.optional_prefixes = {is_resnet(config) ? "1." : fmt::format("{}.", model.size() - 1)};
  if (is_resnet(config) && has_torchvision_names(file)) {
    options.renames = nn::torchvision_resnet_renames("0.");
    options.ignore_unexpected = true;  // torchvision's fc: 1000 ImageNet classes
  }
  return options;
}

std::string describe(const PretrainedLoad& load) {
  std::string text = fmt::format("pretrained: {} (sha256 {}): {} tensors loaded", load.path,
                                 load.sha256, load.report.loaded.size());
  if (!load.report.kept.empty()) {
    text += fmt::format(
        ", {} of the head kept their initial values (not in the file or shaped "
        "differently there)",
        load.report.kept.size());
  }
  if (!load.report.unexpected.empty()) {
    text += fmt::format(", {} in the file unused ({}{})", load.report.unexpected.size(),
                        load.report.unexpected.front(),
                        load.report.unexpected.size() > 1 ? ", ..." : "");
  }
  return text;
}

}  // namespace

std::string pretrained_sha256(const std::string& path) {
  return cached(path).sha256;
}

PretrainedLoad load_pretrained(const Config& config, nn::Sequential& model) {
  const std::string& path = config.model.pretrained;
  const CachedFile& f = cached(path);
  PretrainedLoad load{path, f.sha256, {}, {}};
  try {
    load.report = load_safetensors(model, f.file, options_for(config, f.file, model));
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("model.pretrained ({}): {}", config.source, e.what()));
  }
  load.summary = describe(load);
  return load;
}

}  // namespace keel::train
