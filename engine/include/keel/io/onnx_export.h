// ONNX export of a trained model for inference elsewhere (onnxruntime, TensorRT, ...): the layers
// in evaluation mode, weights as initializers under keel's (PyTorch's) names, no protobuf library.
#pragma once

#include <string>
#include <vector>

#include "keel/nn/module.h"
#include "keel/tensor.h"

namespace keel {

// The model as an ONNX ModelProto (IR version 7, opset 13): input "input" of shape
// (batch, C, H, W) with a symbolic batch size, outputs "logits" (batch, K) and "probabilities"
// (softmax over K). Batch norm becomes BatchNormalization with the running statistics, dropout
// disappears, adaptive pools become global pools (or fixed windows when the size divides).
// `input_chw` is the (C, H, W) the model was trained on. Throws keel::Error(usage) naming a
// layer that has no ONNX form.
std::string onnx_model_bytes(nn::Module& model, const Shape& input_chw);
// An ensemble as one graph: every network on the same input, weights under "model<j>." + its
// names, and "probabilities" the mean of their softmax outputs, as keel averages an ensemble's
// predictions. "logits" is then log(probabilities): softmax of it gives the probabilities back
// and its argmax is the ensemble's class (the networks' own logits have no common scale to
// average). One network gives exactly the single-model graph above.
std::string onnx_model_bytes(const std::vector<nn::Module*>& networks, const Shape& input_chw);
// The same, written to a temporary name in the folder of `path` and renamed over it, so a failed
// export leaves no file (and an earlier one in place).
void export_onnx(nn::Module& model, const Shape& input_chw, const std::string& path);
void export_onnx(const std::vector<nn::Module*>& networks, const Shape& input_chw,
                 const std::string& path);

}  // namespace keel
