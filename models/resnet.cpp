#include "models/resnet.h"

#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/linear.h"
#include "layers/pooling.h"

namespace dasnet {

namespace {

class ResNetBuilder {
 public:
  explicit ResNetBuilder(const ModelConfig& c) : config_(c), net_(std::make_unique<Network>(Shape{1, c.in_channels, c.height, c.image_width})) {}

  int conv(const std::string& name, int input, int in_c, int out_c, int kernel, int stride) {
    return net_->add(name, std::make_unique<Conv2d>(in_c, out_c, kernel, stride, kernel / 2), {input});
  }
  // BN (+ residual) (+ ReLU), fused into one layer or as separate layers.
  int bn(const std::string& name, int input, int channels, bool relu, int residual = -1) {
    bool has_res = residual >= 0;
    if (config_.fuse) {
      std::vector<int> in{input};
      if (has_res) in.push_back(residual);
      return net_->add(name, std::make_unique<BatchNorm>(channels, relu, has_res), in);
    }
    int y = net_->add(name, std::make_unique<BatchNorm>(channels, false, false), {input});
    if (has_res) y = net_->add(name + ".add", std::make_unique<Add>(), {y, residual});
    if (relu) y = net_->add(name + ".relu", std::make_unique<Relu>(), {y});
    return y;
  }
  int shortcut(const std::string& prefix, int input, int in_c, int out_c, int stride) {
    if (stride == 1 && in_c == out_c) return input;
    int s = conv(prefix + ".shortcut.0", input, in_c, out_c, 1, stride);
    return bn(prefix + ".shortcut.1", s, out_c, false);
  }
  int basic_block(const std::string& p, int x, int in_c, int out_c, int stride) {
    int y = conv(p + ".conv1", x, in_c, out_c, 3, stride);
    y = bn(p + ".bn1", y, out_c, true);
    y = conv(p + ".conv2", y, out_c, out_c, 3, 1);
    int s = shortcut(p, x, in_c, out_c, stride);
    return bn(p + ".bn2", y, out_c, true, s);
  }
  int bottleneck_block(const std::string& p, int x, int in_c, int inner, int out_c, int stride) {
    int y = conv(p + ".conv1", x, in_c, inner, 1, 1);
    y = bn(p + ".bn1", y, inner, true);
    y = conv(p + ".conv2", y, inner, inner, 3, stride);
    y = bn(p + ".bn2", y, inner, true);
    y = conv(p + ".conv3", y, inner, out_c, 1, 1);
    int s = shortcut(p, x, in_c, out_c, stride);
    return bn(p + ".bn3", y, out_c, true, s);
  }

  std::unique_ptr<Network> build() {
    const int n = config_.blocks_per_stage();
    int x = conv("conv1", 0, config_.in_channels, config_.width, 3, 1);
    x = bn("bn1", x, config_.width, true);
    int channels = config_.width;
    for (int stage = 0; stage < 3; ++stage) {
      int out_c = config_.width << stage;
      for (int b = 0; b < n; ++b) {
        std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
        int stride = (b == 0 && stage > 0) ? 2 : 1;
        x = config_.block == BlockType::Basic
                ? basic_block(p, x, channels, out_c, stride)
                : bottleneck_block(p, x, channels, config_.inner_width(stage), out_c, stride);
        channels = out_c;
      }
    }
    x = net_->add("avgpool", std::make_unique<GlobalAvgPool>(), {x});
    net_->add("linear", std::make_unique<Linear>(channels, config_.outputs), {x});
    return std::move(net_);
  }

 private:
  const ModelConfig& config_;
  std::unique_ptr<Network> net_;
};

}  // namespace

std::unique_ptr<Network> build_resnet(const ModelConfig& config, Backend& backend, uint64_t seed) {
  config.validate();
  auto net = ResNetBuilder(config).build();
  net->build(backend, seed);
  return net;
}

}  // namespace dasnet
