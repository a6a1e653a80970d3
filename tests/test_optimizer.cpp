// SGD as PyTorch defines it (momentum buffer, Nesterov, weight decay skipping batchnorm
// parameters) and the learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "core/usage_error.h"
#include "kernels/backend_factory.h"
#include "train/optimizer.h"

namespace dasnet {
namespace {

TEST(Sgd, MatchesPyTorchUpdateRule) {
  for (bool nesterov : {false, true}) {
    auto backend = make_backend(BackendKind::Cpu);
    ParameterSet ps;
    ps.add_parameter("conv.weight", {3}, ParamRole::ConvWeight);
    ps.add_parameter("bn.weight", {2}, ParamRole::BatchNormWeight);
    ps.allocate(*backend);
    std::vector<float> p{1, -2, 3, 0.5f, 2}, g{0.1f, 0.2f, -0.3f, 0.4f, -0.5f};
    backend->copy_from_host(ps.params(), p.data(), p.size());
    OptimizerConfig c;
    c.momentum = 0.9f;
    c.weight_decay = 0.01f;
    c.nesterov = nesterov;
    Sgd sgd(*backend, ps, c);
    std::vector<double> expect(p.begin(), p.end()), v(p.size(), 0.0);
    for (int step = 0; step < 3; ++step) {
      backend->copy_from_host(ps.grads(), g.data(), g.size());
      sgd.step(0.1f);
      for (size_t i = 0; i < p.size(); ++i) {
        double d = g[i] + (i < 3 ? 0.01 * expect[i] : 0.0);  // no decay on batchnorm weights
        v[i] = 0.9 * v[i] + d;                              // torch: buf = momentum*buf + d (buf = d at step 1)
        expect[i] -= 0.1 * (nesterov ? d + 0.9 * v[i] : v[i]);
      }
    }
    std::vector<float> got(p.size());
    backend->copy_to_host(got.data(), ps.params(), got.size());
    for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(got[i], expect[i], 1e-6) << "nesterov " << nesterov << " [" << i << "]";
  }
}

TEST(Schedules, ConstantStepCosineWarmup) {
  OptimizerConfig c;
  c.lr = 0.1f;
  EXPECT_FLOAT_EQ(learning_rate(c, 7, 3, 10, 20), 0.1f);
  c.schedule = Schedule::Step;
  c.step_size = 5;
  c.gamma = 0.5f;
  EXPECT_FLOAT_EQ(learning_rate(c, 4, 0, 10, 20), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate(c, 5, 0, 10, 20), 0.05f);
  EXPECT_FLOAT_EQ(learning_rate(c, 12, 0, 10, 20), 0.025f);
  c.schedule = Schedule::Cosine;
  EXPECT_FLOAT_EQ(learning_rate(c, 0, 0, 10, 20), 0.1f);
  EXPECT_NEAR(learning_rate(c, 10, 0, 10, 20), 0.05f, 1e-7);
  c.schedule = Schedule::Constant;
  c.warmup_epochs = 2;
  EXPECT_NEAR(learning_rate(c, 0, 0, 10, 20), 0.1f * 1 / 20, 1e-8);
  EXPECT_NEAR(learning_rate(c, 1, 9, 10, 20), 0.1f, 1e-8);
  EXPECT_FLOAT_EQ(learning_rate(c, 2, 0, 10, 20), 0.1f);
}

TEST(Schedules, BadSettingsAreRefused) {
  OptimizerConfig c;
  c.momentum = 1.0f;
  EXPECT_THROW(c.validate(), UsageError);
  c = {};
  c.nesterov = true;
  c.momentum = 0;
  EXPECT_THROW(c.validate(), UsageError);
  c = {};
  c.lr = NAN;
  EXPECT_THROW(c.validate(), UsageError);
  EXPECT_THROW(parse_schedule("linear"), UsageError);
}

}  // namespace
}  // namespace dasnet
