#include "export/state_dict.h"

#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "kernels/backend_factory.h"
#include "models/resnet.h"

namespace dasnet {

namespace {

constexpr const char* kBatchesTracked = ".num_batches_tracked";

// The engine's own network of `model`: its parameter set names and shapes every tensor.
struct ModelLayout {
  std::unique_ptr<Backend> backend = make_backend(BackendKind::Reference);
  std::unique_ptr<Network> net;
  explicit ModelLayout(const ModelConfig& model) : net(build_resnet(model, *backend, 0)) {}
  const ParameterSet& params() const { return net->params(); }
};

std::string module_of(const std::string& name) { return name.substr(0, name.rfind('.')); }

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

NamedTensor slice(const std::string& name, const std::vector<size_t>& shape, const std::vector<float>& flat,
                  size_t offset, size_t count) {
  return {name, shape, std::vector<float>(flat.begin() + long(offset), flat.begin() + long(offset + count))};
}

}  // namespace

size_t NamedTensor::element_count() const {
  return std::accumulate(shape.begin(), shape.end(), size_t(1), std::multiplies<size_t>());
}

std::string shape_text(const std::vector<size_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

StateDict checkpoint_state_dict(const TrainingState& checkpoint) {
  const ModelLayout layout(checkpoint.model);
  const ParameterSet& ps = layout.params();
  if (checkpoint.params.size() != ps.parameter_count() || checkpoint.state.size() != ps.state_count())
    throw std::runtime_error("checkpoint holds " + std::to_string(checkpoint.params.size()) + " parameters and " +
                             std::to_string(checkpoint.state.size()) + " statistics, its model has " +
                             std::to_string(ps.parameter_count()) + " and " + std::to_string(ps.state_count()));
  StateDict out;
  for (const ParamSlot& slot : ps.slots()) {
    out.push_back(slice(slot.name, slot.shape, checkpoint.params, slot.offset, slot.count));
    if (slot.role != ParamRole::BatchNormBias) continue;
    const std::string module = module_of(slot.name);
    for (const char* stat : {".running_mean", ".running_var"}) {
      const StateSlot* s = ps.find_state(module + stat);
      out.push_back(slice(s->name, s->shape, checkpoint.state, s->offset, s->count));
    }
    out.push_back({module + kBatchesTracked, {}, {}, true, int64_t(checkpoint.batches_trained)});
  }
  return out;
}

ModelConfig model_config_from_state_dict(const StateDict& tensors, int height, int width, const std::string& mode,
                                         const std::string& source) {
  std::map<std::string, const NamedTensor*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t;
  auto need = [&](const std::string& name, size_t rank) -> const NamedTensor& {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw std::runtime_error(source + ": no tensor '" + name + "': not a state_dict of the study's ResNet " +
                               "(tests/pytorch/resnet_torch.py)");
    if (it->second->shape.size() != rank || it->second->is_int64)
      throw std::runtime_error(source + ": tensor '" + name + "' is " + shape_text(it->second->shape) +
                               (it->second->is_int64 ? " int64" : "") + ", expected a float tensor of " +
                               std::to_string(rank) + " dimensions");
    return *it->second;
  };
  ModelConfig c;
  const NamedTensor& stem = need("conv1.weight", 4);
  c.width = int(stem.shape[0]);
  c.in_channels = int(stem.shape[1]);
  c.outputs = int(need("linear.weight", 2).shape[0]);
  c.block = by_name.count("layer1.0.conv3.weight") ? BlockType::Bottleneck : BlockType::Basic;
  std::set<std::string> blocks;  // "layer1.0", "layer1.1", ...
  for (const auto& t : tensors)
    if (t.name.rfind("layer1.", 0) == 0) blocks.insert(t.name.substr(0, t.name.find('.', 7)));
  if (blocks.empty()) need("layer1.0.conv1.weight", 4);  // names the missing stage
  c.depth = (c.block == BlockType::Basic ? 6 : 9) * int(blocks.size()) + 2;
  if (c.block == BlockType::Bottleneck) {
    c.bottleneck_width = int(need("layer1.0.conv1.weight", 4).shape[0]);
    ModelConfig by_default = c;
    by_default.bottleneck_width = 0;
    if (c.bottleneck_width == by_default.inner_width(0)) c.bottleneck_width = 0;  // written as train writes it
  }
  c.height = height;
  c.image_width = width;
  c.mode = parse_output_mode(mode, c.outputs);
  c.validate();
  return c;
}

TrainingState checkpoint_from_state_dict(const StateDict& tensors, const ModelConfig& model, const std::string& source) {
  const ModelLayout layout(model);
  const ParameterSet& ps = layout.params();
  std::map<std::string, const NamedTensor*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t;
  std::set<std::string> used;
  const std::string architecture = "ResNet-" + std::to_string(model.depth) + " (" + block_type_name(model.block) +
                                   " blocks, width " + std::to_string(model.width) + ")";
  auto take = [&](const std::string& name, const std::vector<size_t>& shape, std::vector<float>& into, size_t offset) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw std::runtime_error(source + ": missing tensor '" + name + "' " + shape_text(shape) + " of a " + architecture);
    if (it->second->is_int64 || it->second->shape != shape)
      throw std::runtime_error(source + ": tensor '" + name + "' is " + shape_text(it->second->shape) +
                               (it->second->is_int64 ? " int64" : "") + ", a " + architecture + " needs float32 " +
                               shape_text(shape));
    std::copy(it->second->values.begin(), it->second->values.end(), into.begin() + long(offset));
    used.insert(name);
  };
  TrainingState s;
  s.model = model;
  s.params.assign(ps.parameter_count(), 0.0f);
  s.state.assign(ps.state_count(), 0.0f);
  s.velocity.assign(ps.parameter_count(), 0.0f);
  for (const ParamSlot& slot : ps.slots()) {
    take(slot.name, slot.shape, s.params, slot.offset);
    s.parameter_layout.push_back({slot.name, slot.shape});
  }
  for (const StateSlot& slot : ps.state_slots()) {
    take(slot.name, slot.shape, s.state, slot.offset);
    s.state_layout.push_back({slot.name, slot.shape});
  }
  for (const auto& t : tensors) {
    const bool counter = t.is_int64 && t.shape.empty() && ends_with(t.name, kBatchesTracked) &&
                         ps.find_state(t.name.substr(0, t.name.size() - std::string(kBatchesTracked).size()) + ".running_mean");
    if (counter) s.batches_trained = std::max(s.batches_trained, long(t.count));
    else if (!used.count(t.name))
      throw std::runtime_error(source + ": tensor '" + t.name + "' " + shape_text(t.shape) + " is not part of a " +
                               architecture);
  }
  return s;
}

}  // namespace dasnet
