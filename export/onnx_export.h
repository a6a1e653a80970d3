// The inference network of a checkpoint as an ONNX model (opset 13) for ONNX Runtime and other
// runtimes: input "images" [batch, C, H, W] float32 in [0, 1] (the data set's bytes / 255);
// outputs "logits" [batch, K], "probabilities" [batch, K] (softmax, or sigmoid for K = 1 and
// multilabel) and "p_usable" [batch] (probability column 1, column 0 for K = 1), as
// `dasnet predict` computes them. Batchnorm is a BatchNormalization node over the running
// statistics (eval mode). Written with the protobuf classes of ONNX's published schema
// (third_party/onnx/onnx.proto, compiled by protoc at build time).
#pragma once
#include <string>

#include "train/trainer.h"

namespace dasnet {

// Writes the model to `path` atomically; `source` (the checkpoint's path) goes into its metadata.
void export_onnx(const TrainingState& checkpoint, const std::string& path, const std::string& source);

}  // namespace dasnet
