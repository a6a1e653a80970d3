// A checkpoint as a PyTorch state_dict: one tensor per name of the study's PyTorch ResNet
// (tests/pytorch/resnet_torch.py, bench/torch_train.py), with PyTorch's shapes and order (per
// batchnorm: weight, bias, running_mean, running_var, num_batches_tracked); and back. What
// `dasnet export -o model.pt` writes (export/torch_file.h) and `dasnet import` reads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "train/trainer.h"

namespace dasnet {

struct NamedTensor {
  std::string name;
  std::vector<size_t> shape;
  std::vector<float> values;  // float32 tensors
  bool is_int64 = false;      // num_batches_tracked: a 0-d int64 tensor holding `count`
  int64_t count = 0;
  size_t element_count() const;
};
using StateDict = std::vector<NamedTensor>;

// "[16, 1, 3, 3]"
std::string shape_text(const std::vector<size_t>& shape);

// The checkpoint's parameters and batchnorm statistics under the study's names and shapes, in
// the network's order; num_batches_tracked is the checkpoint's batches_trained.
StateDict checkpoint_state_dict(const TrainingState& checkpoint);

// The model a state_dict of the study's naming describes: width, input channels, K, block type,
// blocks per stage (depth) from the tensors' names and shapes. The image size is not in a
// state_dict and comes from the caller, and so does the output mode ("auto": K = 1 sigmoid,
// else softmax). Errors name `source` and the tensor.
ModelConfig model_config_from_state_dict(const StateDict& tensors, int height, int width, const std::string& mode,
                                         const std::string& source);

// A checkpoint of `model` (epoch 0, zero optimizer velocity) holding the tensors: every tensor of
// the model must be there with its shape and nothing else; errors name `source` and the tensor.
TrainingState checkpoint_from_state_dict(const StateDict& tensors, const ModelConfig& model, const std::string& source);

}  // namespace dasnet
