// Sweep specs: grids, ranges, random sampling, and errors that name the key.
#include <gtest/gtest.h>

#include <set>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "sweep/sweep_spec.h"

namespace dasnet {
namespace {

SweepSpec parse(const std::string& text) { return parse_sweep_spec(text, "test.toml", "/data"); }

std::string error_of(const std::string& text) {
  try {
    expand_trials(parse(text));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(SweepSpec, StudyGridExpandsToDepthTimesLearningRate) {
  SweepSpec spec = load_sweep_spec(std::string(DASNET_SOURCE_DIR) + "/sweep/examples/study_figure3.toml");
  ExpandedTrials t = expand_trials(spec);
  ASSERT_EQ(t.trials.size(), 36u);
  std::set<std::pair<int, double>> points;
  for (const auto& trial : t.trials) {
    points.insert({trial.depth, trial.lr});
    EXPECT_EQ(trial.epochs, 40);
    EXPECT_EQ(trial.batch_size, 128);
    EXPECT_EQ(trial.images_per_class, 1000);
    EXPECT_EQ(trial.outputs, 2);
    EXPECT_EQ(trial.processor, "gpu");
  }
  EXPECT_EQ(points.size(), 36u);
  EXPECT_EQ(spec.data_file_for(t.trials[0]).find("data/dataset_1k.h5") != std::string::npos, true);
  EXPECT_TRUE(spec.synthetic == false);
}

TEST(SweepSpec, EveryExampleParses) {
  for (const char* name : {"study_figure3", "study_full_space", "cpu_reduced", "tiny_synthetic"}) {
    SweepSpec spec = load_sweep_spec(std::string(DASNET_SOURCE_DIR) + "/sweep/examples/" + name + ".toml");
    EXPECT_FALSE(expand_trials(spec).trials.empty()) << name;
  }
}

TEST(SweepSpec, RangesAndInvalidDepthsAndBottleneckWidths) {
  auto spec = parse(R"(
[space]
depth = { min = 2, max = 14, step = 6 }
block = ["basic", "bottleneck"]
bottleneck_width = [4, 8]
lr = { min = 0.001, max = 0.1, log = true, count = 3 }
)");
  auto t = expand_trials(spec);
  // basic: depths 2, 8, 14 (width collapses to 0) x 3 lr = 9; bottleneck (9n+2): depth 2 only x 2 widths x 3 lr = 6
  EXPECT_EQ(t.trials.size(), 15u);
  EXPECT_EQ(t.dropped_invalid, 2 * 2 * 3);  // bottleneck depths 8 and 14
  std::set<double> lrs;
  for (auto& x : t.trials) lrs.insert(x.lr);
  EXPECT_EQ(lrs.size(), 3u);
  EXPECT_NEAR(*lrs.begin(), 0.001, 1e-12);
  EXPECT_NEAR(*std::next(lrs.begin()), 0.01, 1e-9);
}

TEST(SweepSpec, RandomSamplingIsSeededAndDistinct) {
  const std::string text = R"(
[sweep]
sampling = "random"
trials = 20
sampling_seed = 5
[space]
depth = [2, 8, 14, 20]
lr = { min = 0.001, max = 0.5, log = true }
batch_size = [32, 64, 128]
)";
  auto a = expand_trials(parse(text)), b = expand_trials(parse(text));
  ASSERT_EQ(a.trials.size(), 20u);
  std::set<std::string> distinct;
  for (size_t i = 0; i < a.trials.size(); ++i) {
    EXPECT_EQ(a.trials[i].to_json(), b.trials[i].to_json());
    EXPECT_GE(a.trials[i].lr, 0.001);
    EXPECT_LE(a.trials[i].lr, 0.5);
    distinct.insert(a.trials[i].to_json());
  }
  EXPECT_EQ(distinct.size(), 20u);
}

TEST(SweepSpec, ErrorsNameTheKey) {
  EXPECT_NE(error_of("[space]\ndepht = [2]\n").find("depht: unknown key"), std::string::npos);
  EXPECT_NE(error_of("[space]\nchannels = [2]\n").find("space.channels"), std::string::npos);
  EXPECT_NE(error_of("[space]\nlr = { min = 0.1, max = 0.5 }\n").find("sweep.sampling"), std::string::npos);
  EXPECT_NE(error_of("[space]\nprocessor = [\"tpu\"]\n").find("space.processor"), std::string::npos);
  EXPECT_NE(error_of("[space]\nranks = [1, 4]\n").find("run.launcher"), std::string::npos);
  EXPECT_NE(error_of("[space]\nimages_per_class = [1000, 5000]\n[data]\nfiles = [{images_per_class = 1000, path = \"a.h5\"}]\n")
                .find("data.files: no file for images_per_class = 5000"),
            std::string::npos);
  EXPECT_NE(error_of("[space]\ndepth = [2]\n[early_stopping]\nrule = \"median\"\n").find("early_stopping.at_epochs"),
            std::string::npos);
  EXPECT_NE(error_of("[space\n").find("test.toml:1"), std::string::npos);
  EXPECT_NE(error_of("[space]\nlr = [\"fast\"]\n").find("space.lr: expected a number"), std::string::npos);
  EXPECT_NE(error_of("[space]\ndepth = [2]\n[run]\nprogress_timeout_epochs = -1\n").find("run.progress_timeout_epochs"),
            std::string::npos);
  EXPECT_NE(error_of("[space]\ndepth = [2]\n[run]\nprogress_timeout_floor_s = 0\n").find("run.progress_timeout_floor_s"),
            std::string::npos);
}

TEST(SweepSpec, TrialConfigJsonIsCanonical) {
  TrialConfig t;
  t.depth = 20;
  t.lr = 0.05;
  EXPECT_EQ(TrialConfig::from_json(t.to_json()).to_json(), t.to_json());
  EXPECT_THROW(TrialConfig::from_json("{\"depth\": \"deep\"}"), std::runtime_error);
}

}  // namespace
}  // namespace dasnet
