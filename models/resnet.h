// The study's CIFAR-style ResNet family (FIELD-NOTES §1): 3x3 stem to w channels + BN + ReLU;
// three stages of n residual blocks at w, 2w, 4w channels (strides 1, 2, 2; 1x1 conv + BN
// shortcut where the shape changes); global average pool; linear to K outputs.
// Basic blocks give depth 6n + 2, bottleneck blocks (1x1 reduce, 3x3, 1x1 expand) 9n + 2.
// Depth 2 is honestly n = 0 (stem, pool, linear); the study's code built depth 8 instead.
// Parameter names follow the PyTorch module the tests compare against.
#pragma once
#include <memory>

#include "core/network.h"
#include "models/model_config.h"

namespace dasnet {

std::unique_ptr<Network> build_resnet(const ModelConfig& config, Backend& backend, uint64_t seed);

}  // namespace dasnet
