// All trainable parameters of a network live in one contiguous buffer and their gradients in a
// second one with the same offsets (llm.c's lesson): the optimizer, the all-reduce and the
// checkpoint are loops over flat ranges. Non-trained state (batchnorm running statistics) lives
// in a third flat buffer.
#pragma once
#include <string>
#include <vector>

#include "core/backend.h"

namespace dasnet {

enum class ParamRole { ConvWeight, BatchNormWeight, BatchNormBias, LinearWeight, LinearBias };

struct ParamSlot {
  std::string name;  // PyTorch's state_dict name, e.g. "layer2.0.shortcut.0.weight"
  size_t offset = 0;
  size_t count = 0;
  ParamRole role = ParamRole::ConvWeight;
  std::vector<size_t> shape;  // PyTorch's, e.g. {out, in, k, k}; the product is count
  bool is_batchnorm() const { return role == ParamRole::BatchNormWeight || role == ParamRole::BatchNormBias; }
};

struct StateSlot {
  std::string name;  // e.g. "bn1.running_mean"
  size_t offset = 0;
  size_t count = 0;
  float initial = 0;
  std::vector<size_t> shape;
};

class ParameterSet {
 public:
  // Reserve ranges of the tensor's shape (PyTorch's) before allocate(); returns the slot index.
  size_t add_parameter(const std::string& name, std::vector<size_t> shape, ParamRole role);
  size_t add_state(const std::string& name, std::vector<size_t> shape, float initial);

  // Allocates params, grads and state on the backend (state filled with its initial values).
  void allocate(Backend& backend);

  size_t parameter_count() const { return total_params_; }
  size_t state_count() const { return total_state_; }
  const std::vector<ParamSlot>& slots() const { return slots_; }
  const std::vector<StateSlot>& state_slots() const { return state_slots_; }
  const ParamSlot& slot(size_t i) const { return slots_[i]; }
  const StateSlot& state_slot(size_t i) const { return state_slots_[i]; }
  const ParamSlot* find(const std::string& name) const;
  const StateSlot* find_state(const std::string& name) const;

  float* params() const { return params_.data(); }
  float* grads() const { return grads_.data(); }
  float* state() const { return state_.data(); }
  float* param(size_t slot) const { return params() + slots_[slot].offset; }
  float* grad(size_t slot) const { return grads() + slots_[slot].offset; }
  float* state(size_t slot) const { return state() + state_slots_[slot].offset; }

 private:
  std::vector<ParamSlot> slots_;
  std::vector<StateSlot> state_slots_;
  size_t total_params_ = 0, total_state_ = 0;
  Buffer params_, grads_, state_;
};

}  // namespace dasnet
