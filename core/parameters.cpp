#include "core/parameters.h"

#include <functional>
#include <numeric>
#include <stdexcept>

namespace dasnet {

namespace {
size_t element_count(const std::vector<size_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), size_t(1), std::multiplies<size_t>());
}
}  // namespace

size_t ParameterSet::add_parameter(const std::string& name, std::vector<size_t> shape, ParamRole role) {
  if (params_) throw std::logic_error("add_parameter after allocate: " + name);
  const size_t count = element_count(shape);
  slots_.push_back({name, total_params_, count, role, std::move(shape)});
  total_params_ += count;
  return slots_.size() - 1;
}

size_t ParameterSet::add_state(const std::string& name, std::vector<size_t> shape, float initial) {
  if (state_) throw std::logic_error("add_state after allocate: " + name);
  const size_t count = element_count(shape);
  state_slots_.push_back({name, total_state_, count, initial, std::move(shape)});
  total_state_ += count;
  return state_slots_.size() - 1;
}

void ParameterSet::allocate(Backend& backend) {
  params_ = backend.allocate(total_params_);
  grads_ = backend.allocate(total_params_);
  state_ = backend.allocate(total_state_);
  for (const auto& s : state_slots_) backend.fill(state() + s.offset, s.count, s.initial);
}

const ParamSlot* ParameterSet::find(const std::string& name) const {
  for (const auto& s : slots_)
    if (s.name == name) return &s;
  return nullptr;
}

const StateSlot* ParameterSet::find_state(const std::string& name) const {
  for (const auto& s : state_slots_)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace dasnet
