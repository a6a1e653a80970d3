// Precise batchnorm (dasnet train --bn-recalibrate): the recomputed statistics equal the average
// of the batches' own statistics, a resumed run stays bit-exact, the setting is recorded, and the
// warning about statistics still at their initial values appears when it should.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "io/checkpoint.h"
#include "io/synthetic_images.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"
#include "tests/cli_runner.h"
#include "tests/sweep_test_util.h"
#include "train/precise_batchnorm.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

using testing::run_dasnet;

using sweep_testing::scratch_dir;

std::vector<float> host_state(Network& net) {
  std::vector<float> state(net.params().state_count());
  net.backend().copy_to_host(state.data(), net.params().state(), state.size());
  return state;
}

// Each batch's statistics, taken one at a time (momentum 1: the running values become the
// batch's), averaged on the host, against recalibrate_batchnorm over the same batches.
void expect_recalibration_equals_batch_average(BackendKind kind) {
  ModelConfig model;
  model.depth = 8;
  model.height = model.image_width = 16;
  SyntheticImages data(96, {1, 1, 16, 16}, 4);
  auto backend = make_backend(kind);
  auto net = build_resnet(model, *backend, 3);
  LoaderOptions options;
  options.batch_size = 16;
  options.seed = 7;
  const int batches = 4, epoch = 2;
  std::vector<double> expected(net->params().state_count(), 0.0);
  {
    Loader loader(data, options);
    loader.start_epoch(epoch);
    Batch batch;
    for (int k = 0; k < batches && loader.next(batch); ++k) {
      net->set_statistics_momentum(1.0f);
      net->forward(batch.images.data(), batch.count(), true);
      const auto state = host_state(*net);
      for (size_t i = 0; i < state.size(); ++i) expected[i] += state[i] / double(batches);
    }
    net->set_statistics_momentum(-1);
  }
  backend->fill(net->params().state(), net->params().state_count(), 5.0f);  // nothing of these may remain
  EXPECT_EQ(recalibrate_batchnorm(*net, data, options, epoch, batches, nullptr), batches);
  const auto got = host_state(*net);
  double worst = 0, scale = 1e-6;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - expected[i]));
    scale = std::max(scale, std::fabs(expected[i]));
  }
  EXPECT_LE(worst / scale, 1e-5) << backend->name();
  // An epoch with fewer batches than asked for uses what it has.
  EXPECT_EQ(recalibrate_batchnorm(*net, data, options, epoch, 100, nullptr), 6);
}

TEST(PreciseBatchNorm, RecalibratedStatisticsEqualTheBatchAveragesReference) {
  expect_recalibration_equals_batch_average(BackendKind::Reference);
}
TEST(PreciseBatchNorm, RecalibratedStatisticsEqualTheBatchAveragesFastCpu) {
  expect_recalibration_equals_batch_average(BackendKind::Cpu);
}

const std::string kSmall = " --depth 8 --batch-size 16 --no-progress --image-height 16 --image-width 16 "
                           "--synthetic-per-class 48 --lr 0.02";

TEST(PreciseBatchNorm, ResumeIsBitExactAndTheSettingIsRecorded) {
  const std::string dir = scratch_dir("precise_bn_resume");
  auto straight = run_dasnet("train" + kSmall + " --bn-recalibrate 2 --epochs 3 --metrics " + dir + "/m.jsonl --checkpoint-dir " +
                                 dir + "/straight",
                             dir);
  ASSERT_EQ(straight.exit_code, 0) << straight.out << straight.err;
  auto first = run_dasnet("train" + kSmall + " --bn-recalibrate 2 --epochs 2 --checkpoint-dir " + dir + "/split", dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto second = run_dasnet("train --epochs 3 --no-progress --image-height 16 --image-width 16 --synthetic-per-class "
                           "48 --resume " + dir + "/split/epoch_0002.h5 --checkpoint-dir " + dir + "/split",
                           dir);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  TrainingState a = load_checkpoint(dir + "/straight/epoch_0003.h5");
  TrainingState b = load_checkpoint(dir + "/split/epoch_0003.h5");
  EXPECT_EQ(a.train.bn_recalibrate, 2);
  EXPECT_EQ(b.train.bn_recalibrate, 2) << "the resumed run keeps the checkpoint's setting";
  ASSERT_EQ(a.state.size(), b.state.size());
  EXPECT_EQ(0, std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.state.data(), b.state.data(), a.state.size() * sizeof(float)));
  std::ifstream metrics(dir + "/m.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    ++lines;
    EXPECT_NE(line.find("\"bn_recalibrate\":2"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 3);
  auto contradiction = run_dasnet("train --epochs 4 --no-progress --synthetic-per-class 48 --bn-recalibrate 5 --resume " +
                                      dir + "/split/epoch_0003.h5",
                                  dir);
  EXPECT_EQ(contradiction.exit_code, 2) << contradiction.out << contradiction.err;
  EXPECT_NE(contradiction.err.find("--bn-recalibrate"), std::string::npos) << contradiction.err;
}

// Three steps with momentum 0.1 leave 73 % of the initial variance 1: the warning names the
// cure. Recalibrated, or after enough steps, there is nothing to warn about.
TEST(PreciseBatchNorm, WarnsWhileTheStatisticsAreStillTheInitialOnes) {
  const std::string dir = scratch_dir("precise_bn_warning");
  auto early = run_dasnet("train" + kSmall + " --epochs 1", dir);
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_NE(early.out.find("--bn-recalibrate"), std::string::npos) << early.out;
  EXPECT_NE(early.out.find("initial value"), std::string::npos) << early.out;
  auto recalibrated = run_dasnet("train" + kSmall + " --epochs 1 --bn-recalibrate 2", dir);
  ASSERT_EQ(recalibrated.exit_code, 0) << recalibrated.err;
  EXPECT_EQ(recalibrated.out.find("warning:"), std::string::npos) << recalibrated.out;
  auto later = run_dasnet("train --depth 2 --batch-size 4 --no-progress --image-height 16 --image-width 16 "
                          "--synthetic-per-class 256 --epochs 1",
                          dir);
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(later.out.find("warning:"), std::string::npos) << "128 steps: " << later.out;
}

}  // namespace
}  // namespace dasnet
