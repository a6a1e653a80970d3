// dasnet equals PyTorch: logits, loss, every parameter gradient and the updated batchnorm
// statistics of depth 2, 8, 14 (and a bottleneck) networks, on inputs and weights saved by
// tests/pytorch/make_reference.py. Error = max |dasnet - torch| / max |torch| per tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/usage_error.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"

namespace dasnet {
namespace {

struct Reference {
  nlohmann::json tensors;
  std::vector<float> blob;
  std::vector<float> get(const std::string& name) const {
    if (!tensors.contains(name)) throw std::runtime_error("reference lacks " + name);
    size_t offset = tensors[name]["offset"], count = 1;
    for (size_t d : tensors[name]["shape"]) count *= d;
    return std::vector<float>(blob.begin() + offset, blob.begin() + offset + count);
  }
};

Reference load(const std::string& name) {
  std::string base = std::string(DASNET_SOURCE_DIR) + "/tests/reference/" + name;
  std::ifstream header(base + ".json");
  EXPECT_TRUE(header.good()) << base << ".json missing";
  Reference r;
  r.tensors = nlohmann::json::parse(header)["tensors"];
  std::ifstream bin(base + ".bin", std::ios::binary | std::ios::ate);
  r.blob.resize(size_t(bin.tellg()) / 4);
  bin.seekg(0);
  bin.read(reinterpret_cast<char*>(r.blob.data()), std::streamsize(r.blob.size() * 4));
  return r;
}

double relative_error(const std::vector<float>& ours, const std::vector<float>& theirs) {
  EXPECT_EQ(ours.size(), theirs.size());
  double scale = 1e-12, diff = 0;
  for (size_t i = 0; i < theirs.size(); ++i) {
    scale = std::max(scale, double(std::fabs(theirs[i])));
    diff = std::max(diff, std::fabs(double(ours[i]) - theirs[i]));
    if (!std::isfinite(ours[i])) return INFINITY;
  }
  return diff / scale;
}

struct Case {
  const char* name;
  int depth, outputs, channels;
  OutputMode mode;
  BlockType block;
};

class PyTorchReference : public ::testing::TestWithParam<std::tuple<Case, std::string>> {};

TEST_P(PyTorchReference, ForwardBackwardAndStatistics) {
  const auto& [c, backend_name] = GetParam();
  Reference ref = load(c.name);
  ModelConfig config;
  config.depth = c.depth;
  config.block = c.block;
  config.outputs = c.outputs;
  config.mode = c.mode;
  config.in_channels = c.channels;
  config.height = config.image_width = 32;
  auto backend = make_backend(parse_backend_kind(backend_name));
  auto net = build_resnet(config, *backend, 0);
  ParameterSet& ps = net->params();

  std::vector<float> params(ps.parameter_count()), state(ps.state_count());
  for (const auto& slot : ps.slots()) {
    auto v = ref.get("init." + slot.name);
    ASSERT_EQ(v.size(), slot.count) << slot.name;
    // The shape a checkpoint stores the tensor with is PyTorch's.
    EXPECT_EQ(slot.shape, ref.tensors["init." + slot.name]["shape"].get<std::vector<size_t>>()) << slot.name;
    std::copy(v.begin(), v.end(), params.begin() + slot.offset);
  }
  for (const auto& slot : ps.state_slots()) {
    auto v = ref.get("init." + slot.name);
    EXPECT_EQ(slot.shape, ref.tensors["init." + slot.name]["shape"].get<std::vector<size_t>>()) << slot.name;
    std::copy(v.begin(), v.end(), state.begin() + slot.offset);
  }
  backend->copy_from_host(ps.params(), params.data(), params.size());
  backend->copy_from_host(ps.state(), state.data(), state.size());

  auto input = ref.get("input");
  auto label_values = ref.get("labels");
  std::vector<int> labels(label_values.begin(), label_values.end());
  const int n = int(labels.size());
  const Tensor& logits = net->forward(input.data(), n, true);
  std::vector<float> ours(logits.numel());
  backend->copy_to_host(ours.data(), logits.data, ours.size());
  EXPECT_LE(relative_error(ours, ref.get("logits")), 1e-4) << "logits";

  LossTotals t = backend->loss(c.mode, logits, labels.data(), &net->logits_gradient(), nullptr);
  EXPECT_NEAR(t.loss_sum / n, ref.get("loss")[0], 1e-4 * std::fabs(ref.get("loss")[0]));
  net->backward();

  std::vector<float> grads(ps.parameter_count());
  backend->copy_to_host(grads.data(), ps.grads(), grads.size());
  for (const auto& slot : ps.slots()) {
    std::vector<float> g(grads.begin() + slot.offset, grads.begin() + slot.offset + slot.count);
    EXPECT_LE(relative_error(g, ref.get("grad." + slot.name)), 1e-4) << "gradient of " << slot.name;
  }
  backend->copy_to_host(state.data(), ps.state(), state.size());
  for (const auto& slot : ps.state_slots()) {
    std::vector<float> s(state.begin() + slot.offset, state.begin() + slot.offset + slot.count);
    EXPECT_LE(relative_error(s, ref.get("after." + slot.name)), 1e-4) << slot.name;
  }
}

const Case kCases[] = {
    {"depth2_softmax", 2, 2, 1, OutputMode::Softmax, BlockType::Basic},
    {"depth8_softmax", 8, 2, 1, OutputMode::Softmax, BlockType::Basic},
    {"depth14_softmax", 14, 2, 1, OutputMode::Softmax, BlockType::Basic},
    {"depth8_sigmoid", 8, 1, 1, OutputMode::Sigmoid, BlockType::Basic},
    {"depth11_bottleneck", 11, 3, 3, OutputMode::Softmax, BlockType::Bottleneck},
};

INSTANTIATE_TEST_SUITE_P(Cases, PyTorchReference,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values("reference", "cpu")),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
                         });

// The study's parameter counts (1 input channel, K = 2).
TEST(ParameterCounts, EqualTheStudy) {
  auto backend = make_backend(BackendKind::Reference);
  const std::pair<int, size_t> expected[] = {{8, 77234}, {14, 174450}, {20, 271666}, {26, 368882}, {32, 466098}};
  for (auto [depth, count] : expected) {
    ModelConfig config;
    config.depth = depth;
    config.height = config.image_width = 8;  // counts do not depend on the image size
    EXPECT_EQ(build_resnet(config, *backend, 0)->params().parameter_count(), count) << "depth " << depth;
  }
}

TEST(ParameterCounts, DepthTwoIsStemPoolAndLinear) {
  auto backend = make_backend(BackendKind::Reference);
  ModelConfig config;
  config.depth = 2;
  config.height = config.image_width = 8;
  // conv 1->16 (144) + BN (32) + linear 16->2 (34): the honest depth-2 network, not depth 8.
  EXPECT_EQ(build_resnet(config, *backend, 0)->params().parameter_count(), 210u);
}

TEST(ParameterCounts, InvalidDepthIsRefusedWithTheValidOnes) {
  ModelConfig config;
  config.depth = 10;
  try {
    config.validate();
    FAIL() << "depth 10 accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("2, 8, 14, 20, 26, 32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dasnet
