// The study's model family, as a value that checkpoints and the sweep store and compare.
#pragma once
#include <string>

#include "core/backend.h"
#include "core/usage_error.h"

namespace dasnet {

enum class BlockType { Basic, Bottleneck };

struct ModelConfig {
  int depth = 14;
  BlockType block = BlockType::Basic;
  int width = 16;             // channels of the stem and the first stage (stages: w, 2w, 4w)
  int bottleneck_width = 0;   // bottleneck blocks: inner width of stage 1 (x2, x4 later); 0 = width / 4
  int in_channels = 1;        // 1 = grayscale, 3 = RGB
  int height = 200;           // fiber channels per image
  int image_width = 200;      // time samples per image
  int outputs = 2;            // K, neurons in the final layer
  OutputMode mode = OutputMode::Softmax;
  bool fuse = true;           // BN+ReLU and BN+add+ReLU as one layer

  // Residual blocks per stage for this depth; throws UsageError listing the valid depths.
  int blocks_per_stage() const;
  int inner_width(int stage) const;  // bottleneck width of stage 0..2
  void validate() const;
  std::string to_json() const;
  static ModelConfig from_json(const std::string& json);
};

std::string output_mode_name(OutputMode mode);
OutputMode parse_output_mode(const std::string& name, int outputs);  // "auto" picks by K
std::string block_type_name(BlockType type);
BlockType parse_block_type(const std::string& name);

}  // namespace dasnet
