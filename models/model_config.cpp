#include "models/model_config.h"

#include "core/usage_error.h"
#include "models/model_config_json.h"

namespace dasnet {

int ModelConfig::blocks_per_stage() const {
  const int per_block = block == BlockType::Basic ? 6 : 9;
  if (depth >= 2 && (depth - 2) % per_block == 0) return (depth - 2) / per_block;
  std::string valid;
  for (int n = 0; n <= 5; ++n) valid += std::to_string(per_block * n + 2) + ", ";
  throw UsageError("--depth " + std::to_string(depth) + " is not valid for " + block_type_name(block) +
                   " blocks: depth = " + std::to_string(per_block) + "n + 2, e.g. " + valid + "..." +
                   (block == BlockType::Basic ? " 110" : " npm"));
}

int ModelConfig::inner_width(int stage) const {
  int base = bottleneck_width > 0 ? bottleneck_width : std::max(1, width / 4);
  return base << stage;
}

void ModelConfig::validate() const {
  blocks_per_stage();
  if (width <= 0) throw UsageError("--width must be positive, got " + std::to_string(width));
  if (bottleneck_width < 0) throw UsageError("--bottleneck-width must be positive");
  if (in_channels <= 0) throw UsageError("--channels must be positive, got " + std::to_string(in_channels));
  if (height < 4 || image_width < 4)
    throw UsageError("image size " + std::to_string(height) + "x" + std::to_string(image_width) +
                     " is too small (at least 4x4: the network downsamples twice)");
  if (outputs <= 0) throw UsageError("--outputs must be positive, got " + std::to_string(outputs));
  if (mode == OutputMode::Sigmoid && outputs != 1) throw UsageError("--output-mode sigmoid needs --outputs 1");
  if (mode == OutputMode::Softmax && outputs < 2) throw UsageError("--output-mode softmax needs --outputs >= 2");
  if (mode == OutputMode::Multilabel && outputs > 30) throw UsageError("--output-mode multilabel supports up to 30 outputs");
}

std::string output_mode_name(OutputMode mode) {
  switch (mode) {
    case OutputMode::Sigmoid: return "sigmoid";
    case OutputMode::Softmax: return "softmax";
    case OutputMode::Multilabel: return "multilabel";
  }
  return "?";
}

OutputMode parse_output_mode(const std::string& name, int outputs) {
  if (name == "auto") return outputs == 1 ? OutputMode::Sigmoid : OutputMode::Softmax;
  if (name == "sigmoid") return OutputMode::Sigmoid;
  if (name == "softmax") return OutputMode::Softmax;
  if (name == "multilabel") return OutputMode::Multilabel;
  throw UsageError("--output-mode: unknown mode '" + name + "' (valid: auto, sigmoid, softmax, multilabel)");
}

std::string block_type_name(BlockType type) { return type == BlockType::Basic ? "basic" : "bottleneck"; }

BlockType parse_block_type(const std::string& name) {
  if (name == "basic") return BlockType::Basic;
  if (name == "bottleneck") return BlockType::Bottleneck;
  throw UsageError("--block: unknown block type '" + name + "' (valid: basic, bottleneck)");
}

std::string ModelConfig::to_json() const { return nlohmann::json(*this).dump(); }

ModelConfig ModelConfig::from_json(const std::string& text) {
  ModelConfig m;
  try {
    m = nlohmann::json::parse(text).get<ModelConfig>();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("model configuration is not valid: ") + e.what());
  }
  m.validate();
  return m;
}

}  // namespace dasnet
