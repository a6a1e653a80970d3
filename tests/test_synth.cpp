// Synthetic records: reproducible from the seed, written as files the DAS readers load like real
// ones (PRODML both axis orders, MATLAB v7.3 DSI), with their ground truth.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_formats.h"
#include "io/synth_file.h"

namespace dasnet {
namespace {

std::string temp_path(const std::string& name) {
  // ctest runs tests as parallel processes: the process id keeps their files apart.
  return ::testing::TempDir() + "dasnet_synth_" + std::to_string(getpid()) + "_" + name;
}

SynthOptions small_options(uint64_t seed) {
  SynthOptions o;
  o.channels = 60;
  o.duration_s = 12;  // crosses a generator block boundary (10 s)
  o.seed = seed;
  o.vehicles_per_minute = 20;
  o.saturation_fraction = 0.2;
  o.noncoherent_fraction = 0.5;
  return o;
}

std::vector<float> generate(const SynthOptions& o) {
  Synthesizer s(o, random_scene(o));
  std::vector<float> all, block;
  std::vector<uint8_t> truth;
  while (s.next_block(block, truth) > 0) all.insert(all.end(), block.begin(), block.end());
  return all;
}

TEST(Synth, SameSeedSameRecordOtherSeedOtherRecord) {
  auto a = generate(small_options(5)), b = generate(small_options(5)), c = generate(small_options(6));
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Synth, ValuesAreIntegralInt16AndSaturationClips) {
  SynthOptions o = small_options(9);
  SynthScene scene;
  scene.sources.push_back(make_saturating_source(o, 1, 2, 2, 60, 5));
  Synthesizer s(o, scene);
  std::vector<float> block;
  std::vector<uint8_t> truth;
  bool clipped = false, saturated_truth = false;
  while (size_t n = s.next_block(block, truth)) {
    (void)n;
    for (float v : block) {
      ASSERT_EQ(v, std::nearbyint(v));
      ASSERT_GE(v, -32768.0f);
      ASSERT_LE(v, 32767.0f);
      clipped = clipped || v == 32767.0f || v == -32768.0f;
    }
    for (uint8_t t : truth) saturated_truth = saturated_truth || t == uint8_t(TruthClass::saturated);
  }
  EXPECT_TRUE(clipped);
  EXPECT_TRUE(saturated_truth);
}

TEST(Synth, BadOptionsAreUsageErrors) {
  SynthOptions o;
  o.channels = 0;
  EXPECT_THROW(o.validate(), UsageError);
  o = SynthOptions{};
  o.duration_s = -1;
  EXPECT_THROW(o.validate(), UsageError);
  EXPECT_THROW(parse_synth_format("segy", ""), UsageError);
}

void check_round_trip(SynthFormat format, const std::string& name, const std::string& expected_format) {
  SynthOptions o = small_options(11);
  const std::string path = temp_path(name);
  SynthWriteOptions w;
  w.format = format;
  write_synthetic_record(path, o, random_scene(o), w);
  const std::vector<float> expected = generate(o);

  DasInfo info = inspect_das(path);
  EXPECT_EQ(info.format, expected_format);
  EXPECT_EQ(info.num_channels, size_t(o.channels));
  EXPECT_EQ(info.num_samples, o.total_samples());
  EXPECT_NEAR(info.sampling_rate_hz, o.rate_hz, 1e-6);
  DasRecord all = read_das(path);
  ASSERT_EQ(all.data.size(), expected.size());
  // The generator's blocks are channels x block samples; compare sample by sample.
  const size_t total = o.total_samples(), block = Synthesizer::kBlockSamples;
  size_t mismatches = 0;
  for (size_t c = 0; c < size_t(o.channels); ++c)
    for (size_t t = 0; t < total; ++t) {
      const size_t b0 = (t / block) * block, bn = std::min(block, total - b0);
      const float want = expected[b0 * size_t(o.channels) + c * bn + (t - b0)];
      mismatches += all.at(c, t) != want;
    }
  EXPECT_EQ(mismatches, 0u);
  // A window reads the same values as the whole record.
  ReadWindow window;
  window.first_channel = 7;
  window.num_channels = 20;
  window.first_sample = 4990;
  window.num_samples = 30;
  DasRecord part = read_das(path, window);
  ASSERT_EQ(part.num_channels, 20u);
  ASSERT_EQ(part.num_samples, 30u);
  for (size_t c = 0; c < 20; ++c)
    for (size_t t = 0; t < 30; ++t) ASSERT_EQ(part.at(c, t), all.at(c + 7, t + 4990));
  if (format != SynthFormat::dsi) {
    EXPECT_EQ(info.start_time_ns, o.start_time_ns);
    EXPECT_NEAR(info.channel_spacing_m, o.spacing_m, 1e-9);
  }
  TruthMap truth = read_truth(path);
  ASSERT_FALSE(truth.empty());
  EXPECT_EQ(truth.channels, size_t(o.channels));
  EXPECT_EQ(truth.samples, total);
  EXPECT_EQ(truth.rows, (size_t(o.channels) + kTruthCellChannels - 1) / kTruthCellChannels);
  std::remove(path.c_str());
}

TEST(Synth, ProdmlTimeLocusRoundTrip) { check_round_trip(SynthFormat::prodml_time_locus, "tl.h5", "prodml"); }
TEST(Synth, ProdmlLocusTimeRoundTrip) { check_round_trip(SynthFormat::prodml_locus_time, "lt.h5", "prodml"); }
TEST(Synth, DsiMatRoundTrip) { check_round_trip(SynthFormat::dsi, "dsi.mat", "dsi-mat"); }

TEST(Synth, DsiFileHasMatlabHeader) {
  SynthOptions o = small_options(3);
  o.duration_s = 1;
  const std::string path = temp_path("hdr.mat");
  SynthWriteOptions w;
  w.format = SynthFormat::dsi;
  write_synthetic_record(path, o, random_scene(o), w);
  std::ifstream in(path, std::ios::binary);
  char head[128];
  in.read(head, sizeof head);
  EXPECT_EQ(std::string(head, 19), "MATLAB 7.3 MAT-file");
  EXPECT_EQ(head[126], 'I');
  EXPECT_EQ(head[127], 'M');
  std::remove(path.c_str());
}

TEST(Synth, TruthOfAPatch) {
  TruthMap m;
  m.rows = 20;
  m.cols = 8;
  m.channels = 200;
  m.samples = 400;
  m.cells.assign(m.rows * m.cols, uint8_t(TruthClass::noise));
  EXPECT_EQ(m.patch_class(0, 200, 0, 200), TruthClass::noise);
  for (size_t r = 0; r < 10; ++r) m.cells[r * m.cols + 1] = uint8_t(TruthClass::waves);
  EXPECT_EQ(m.patch_class(0, 200, 0, 200), TruthClass::noise);  // 10 of 80 cells: below 20%
  for (size_t r = 0; r < 10; ++r) m.cells[r * m.cols + 2] = uint8_t(TruthClass::waves);
  EXPECT_EQ(m.patch_class(0, 200, 0, 200), TruthClass::waves);  // 20 of 80
  m.cells[5 * m.cols + 6] = uint8_t(TruthClass::saturated);
  EXPECT_EQ(m.patch_class(0, 200, 200, 200), TruthClass::noise);  // 1 of 80: below 2%
  m.cells[6 * m.cols + 6] = uint8_t(TruthClass::saturated);
  EXPECT_EQ(m.patch_class(0, 200, 200, 200), TruthClass::saturated);
}

}  // namespace
}  // namespace dasnet
