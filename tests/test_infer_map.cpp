// Usable-energy maps: window placement, map shape and axes, the HDF5 and PNG outputs, and (a
// separate, labelled ctest test) high probability on the coherent-wave regions of a synthetic
// record with a model trained on records of the same kind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "infer/probability_map.h"
#include "io/checkpoint.h"
#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "io/synth_file.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"
#include "sweep_test_util.h"
#include "train/trainer.h"

namespace dasnet {
namespace {

using sweep_testing::dasnet;
using sweep_testing::scratch_dir;

TEST(InferMap, WindowStartsCoverTheWholeAxis) {
  EXPECT_EQ(window_starts(10, 4, 4), (std::vector<size_t>{0, 4, 6}));
  EXPECT_EQ(window_starts(8, 4, 2), (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(window_starts(4, 4, 4), (std::vector<size_t>{0}));
  EXPECT_TRUE(window_starts(3, 4, 4).empty());
}

TEST(InferMap, CommandWritesMapWithRecordAxes) {
  auto dir = scratch_dir("infer_cmd");
  ASSERT_EQ(dasnet("synth --channels 40 --duration 4 --seed 3 -o rec.h5 -q", dir).code, 0);
  auto train = dasnet("train --depth 2 --epochs 1 --batch-size 16 --synthetic-per-class 32 --image-height 16 "
                      "--image-width 16 --checkpoint-dir ck --no-progress --threads 1",
                      dir);
  ASSERT_EQ(train.code, 0) << train.out;
  auto r = dasnet("infer ck/epoch_0001.h5 rec.h5 -o maps --stride 8 --no-progress --threads 1", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MB/s"), std::string::npos);
  ASSERT_TRUE(std::filesystem::exists(dir + "/maps/rec.png"));
  const h5::File file(dir + "/maps/rec.pmap.h5");
  const h5::Node p = file.dataset("p_usable");
  auto dims = p.shape();
  ASSERT_EQ(dims.size(), 2u);
  EXPECT_EQ(dims[0], 5u);            // 40 channels / stride 8
  EXPECT_EQ(dims[1], 2000u / 8u);    // 4 s at 500 Hz / stride 8
  std::vector<float> values(dims[0] * dims[1]);
  p.read_box(H5T_NATIVE_FLOAT, values.data(), {0, 0}, {dims[0], dims[1]});
  for (float v : values) {
    ASSERT_FALSE(std::isnan(v));
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
  }
  const h5::Node time = file.dataset("time_s");
  std::vector<double> t(dims[1]);
  time.read_box(H5T_NATIVE_DOUBLE, t.data(), {0}, {dims[1]});
  EXPECT_NEAR(t[1] - t[0], 8.0 / 500.0, 1e-9);
  EXPECT_EQ(file.group("/").attr_int64("start_time_ns"), 1546300800LL * 1000000000LL);
  // Two records of one name from different folders get a map each (issue 15.6: both wrote
  // maps/rec.pmap.h5); the same record twice is refused naming it.
  std::filesystem::create_directories(dir + "/a");
  std::filesystem::create_directories(dir + "/b");
  ASSERT_EQ(dasnet("synth --channels 40 --duration 4 --seed 3 -o a/rec.h5 -q", dir).code, 0);
  ASSERT_EQ(dasnet("synth --channels 24 --duration 4 --seed 4 -o b/rec.h5 -q", dir).code, 0);
  auto both = dasnet("infer ck/epoch_0001.h5 a/rec.h5 b/rec.h5 -o same_name --stride 8 --no-progress --threads 1", dir);
  ASSERT_EQ(both.code, 0) << both.out;
  EXPECT_EQ(h5::File(dir + "/same_name/a/rec.pmap.h5").dataset("p_usable").shape()[0], 5u);  // 40 channels
  EXPECT_EQ(h5::File(dir + "/same_name/b/rec.pmap.h5").dataset("p_usable").shape()[0], 3u);  // 24 channels
  EXPECT_TRUE(std::filesystem::exists(dir + "/same_name/b/rec.png"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/same_name/rec.pmap.h5"));
  auto twice = dasnet("infer ck/epoch_0001.h5 a/rec.h5 ./a/rec.h5 -o twice --no-progress --threads 1", dir);
  EXPECT_EQ(twice.code, 2) << twice.out;
  EXPECT_NE(twice.out.find("./a/rec.h5: given twice"), std::string::npos) << twice.out;
  // A stride that does not divide the image size is refused, naming the flag.
  auto bad = dasnet("infer ck/epoch_0001.h5 rec.h5 -o maps --stride 5 --no-progress", dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--stride"), std::string::npos) << bad.out;
}

// A record in memory (the Python module's Record, a DASCore patch) maps exactly like its file read
// in time chunks, and a window of rows far apart in memory (row_stride) like the same samples packed.
TEST(InferMap, RecordInMemoryMapsLikeItsFile) {
  auto dir = scratch_dir("infer_memory");
  ASSERT_EQ(dasnet("synth --channels 40 --duration 2 --seed 4 -o rec.h5 -q", dir).code, 0);
  ModelConfig model;
  model.depth = 2;
  model.height = 16;
  model.image_width = 16;
  auto backend = make_backend(BackendKind::Cpu);
  auto net = build_resnet(model, *backend, 7);
  InferOptions options;
  options.stride_channels = 8;
  options.stride_samples = 4;
  options.batch_size = 5;
  options.max_chunk_bytes = 40 * 64 * sizeof(float);  // 64-sample chunks: many reads
  const ProbabilityMap from_file = infer_probability_map(*net, model, dir + "/rec.h5", options);
  const DasRecord rec = read_das(dir + "/rec.h5");
  RecordView view;
  view.data = rec.data.data();
  view.num_channels = rec.num_channels;
  view.num_samples = rec.num_samples;
  view.row_stride = rec.num_samples;
  view.sampling_rate_hz = rec.sampling_rate_hz;
  view.channel_spacing_m = rec.channel_spacing_m;
  view.distance_start_m = rec.distance_start_m;
  view.start_time_ns = rec.start_time_ns;
  const ProbabilityMap in_memory = infer_probability_map(*net, model, view, options);
  ASSERT_EQ(in_memory.rows, from_file.rows);
  ASSERT_EQ(in_memory.cols, from_file.cols);
  EXPECT_EQ(in_memory.windows, from_file.windows);
  EXPECT_EQ(in_memory.start_time_ns, from_file.start_time_ns);
  for (size_t i = 0; i < in_memory.p.size(); ++i) ASSERT_EQ(in_memory.p[i], from_file.p[i]) << "cell " << i;
  // The first 500 samples as a strided view of the whole record: the map of the file's window.
  view.num_samples = 500;
  ReadWindow first_second;
  first_second.num_samples = 500;
  const DasRecord part = read_das(dir + "/rec.h5", first_second);
  const ProbabilityMap strided = infer_probability_map(*net, model, view, options);
  view.data = part.data.data();
  view.row_stride = part.num_samples;
  const ProbabilityMap packed = infer_probability_map(*net, model, view, options);
  ASSERT_EQ(strided.p.size(), packed.p.size());
  for (size_t i = 0; i < packed.p.size(); ++i) ASSERT_EQ(strided.p[i], packed.p[i]) << "cell " << i;
}

// Slow (about a minute on 2 cores): run by ctest as infer_map_regions (label "slow"), or with
// dasnet_tests --gtest_also_run_disabled_tests --gtest_filter='InferMap.DISABLED_*'.
TEST(InferMap, DISABLED_HighProbabilityOnCoherentWaveRegions) {
  auto dir = scratch_dir("infer_regions");
  for (int seed : {1, 2, 3})
    ASSERT_EQ(dasnet("synth --channels 100 --duration 60 --vehicles 6 --seed " + std::to_string(seed) + " -o rec" +
                         std::to_string(seed) + ".h5 -q",
                     dir)
                  .code,
              0);
  ASSERT_EQ(dasnet("synth --channels 100 --duration 30 --vehicles 6 --seed 9 -o test.h5 -q", dir).code, 0);
  auto build = dasnet("dataset build rec1.h5 rec2.h5 rec3.h5 -o ds.h5 --per-class 120 --patch-channels 20 "
                      "--patch-samples 200 -q",
                      dir);
  ASSERT_EQ(build.code, 0) << build.out;
  auto train = dasnet("train --data ds.h5 --depth 2 --epochs 8 --batch-size 32 --lr 0.05 --checkpoint-dir ck "
                      "--no-progress",
                      dir);
  ASSERT_EQ(train.code, 0) << train.out;
  auto r = dasnet("infer ck/epoch_0008.h5 test.h5 -o maps --stride-samples 100 --stride-channels 10 --no-progress", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  // Compare the map with the generator's truth, cell by cell.
  TruthMap truth = read_truth(dir + "/test.h5");
  ASSERT_FALSE(truth.empty());
  const h5::File file(dir + "/maps/test.pmap.h5");
  const h5::Node p = file.dataset("p_usable");
  auto dims = p.shape();
  std::vector<float> values(dims[0] * dims[1]);
  p.read_box(H5T_NATIVE_FLOAT, values.data(), {0, 0}, {dims[0], dims[1]});
  double waves = 0, noise = 0;
  int n_waves = 0, n_noise = 0;
  for (size_t r0 = 0; r0 < dims[0]; ++r0)
    for (size_t c0 = 0; c0 < dims[1]; ++c0) {
      TruthClass cls = truth.patch_class(r0 * 10, 10, c0 * 100, 100);
      float v = values[r0 * dims[1] + c0];
      if (cls == TruthClass::waves) waves += v, ++n_waves;
      if (cls == TruthClass::noise) noise += v, ++n_noise;
    }
  ASSERT_GT(n_waves, 0);
  ASSERT_GT(n_noise, 0);
  waves /= n_waves;
  noise /= n_noise;
  std::printf("[ info ] mean P(usable): coherent-wave cells %.3f (%d), noise cells %.3f (%d)\n", waves, n_waves, noise,
              n_noise);
  EXPECT_GT(waves, 0.7);
  // A depth-2 model on 240 training patches separates the classes only partly (measured gap 0.12).
  EXPECT_GT(waves - noise, 0.1);
}

}  // namespace
}  // namespace dasnet
