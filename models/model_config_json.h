// The JSON form of ModelConfig, the model record that checkpoints store (train/records_json.h
// declares the training records beside it). The field list is declared here once; the keys are
// the member names, and a missing key takes the field's default.
#pragma once
#include <nlohmann/json.hpp>

#include "core/usage_error.h"
#include "models/model_config.h"

namespace dasnet {

// Enums as their names. Not NLOHMANN_JSON_SERIALIZE_ENUM: that maps an unknown name to the first
// value silently; the parse_* functions reject it with a message listing the valid names.
inline void to_json(nlohmann::json& j, BlockType b) { j = block_type_name(b); }
inline void from_json(const nlohmann::json& j, BlockType& b) { b = parse_block_type(j.get<std::string>()); }
inline void to_json(nlohmann::json& j, OutputMode m) { j = output_mode_name(m); }
inline void from_json(const nlohmann::json& j, OutputMode& m) {
  const auto name = j.get<std::string>();
  if (name == "auto") throw UsageError("output mode 'auto' is not a stored mode (valid: sigmoid, softmax, multilabel)");
  m = parse_output_mode(name, 0);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelConfig, depth, block, width, bottleneck_width, in_channels,
                                                height, image_width, outputs, mode, fuse)

}  // namespace dasnet
