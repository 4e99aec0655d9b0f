// safetensors weight files (the format PyTorch state_dicts are published in): reading, writing,
// and loading into / saving from a model under PyTorch's parameter and buffer names.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/nn/module.h"
#include "keel/tensor.h"

namespace keel {

// The tensors of one file as float32 CPU tensors (F64, F16 and BF16 are converted; integer and
// bool tensors, such as batch norm's num_batches_tracked, become their float values), and the
// free-form `__metadata__` strings.
struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::vector<int64_t>> shapes;  // as the file states them, scalars ()
  std::map<std::string, std::string> dtypes;           // as the file states them ("F16", ...)
  std::map<std::string, std::string> metadata;
  std::string source;  // the file, for messages
};

// Layout: u64 little-endian header length N | N bytes of JSON | data. The JSON maps each name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data, which the tensors
// cover exactly, without overlap or holes) and may hold "__metadata__": {string: string}.
// Throws keel::Error(ErrorKind::data) naming the source and the offending tensor for a bad header
// length, bad JSON, an unknown dtype, a size that does not match the shape, offsets outside the
// file, overlapping tensors or bytes that no tensor covers.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);
SafetensorsFile read_safetensors(const std::string& path);

// Writes float32 tensors (CPU or CUDA) under their names, keys sorted, to a temporary name in the
// same folder that is then renamed over `path`.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Every parameter and buffer of a model under its hierarchical name ("0.4.1.bn2.running_var"):
// the names of the matching PyTorch module's state_dict, less num_batches_tracked, which keel
// does not keep (PyTorch's load_state_dict fills it in when absent).
void save_safetensors(nn::Module& model, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});

struct WeightLoadOptions {
  bool allow_missing = false;      // model tensors the file lacks keep their values
  bool ignore_unexpected = false;  // file tensors the model lacks are skipped
  // Model names under these prefixes (a head: "1.") may be missing from the file or shaped
  // differently there; such tensors keep their values and are listed in the report.
  std::vector<std::string> optional_prefixes;
  // File-name prefix -> model-name prefix, applied to the file's names first (the first
  // matching pair wins), e.g. torchvision's "layer1." -> keel's "0.4.".
  std::vector<std::pair<std::string, std::string>> renames;
};

struct WeightLoadReport {
  std::vector<std::string> loaded;      // model names
  std::vector<std::string> kept;        // model names left as they were (missing or optional)
  std::vector<std::string> unexpected;  // file names (after renaming) the model does not have
};

// Checks every name and shape first and changes nothing unless all fit: a model tensor missing
// from the file, a file tensor the model lacks, or one shaped differently is a keel::Error(data)
// naming the key and both shapes, unless the options allow it. num_batches_tracked entries next
// to a batch norm's running statistics are accepted and skipped.
WeightLoadReport load_safetensors(nn::Module& model, const SafetensorsFile& file,
                                  const WeightLoadOptions& options = {});
WeightLoadReport load_safetensors(nn::Module& model, const std::string& path,
                                  const WeightLoadOptions& options = {});

}  // namespace keel
