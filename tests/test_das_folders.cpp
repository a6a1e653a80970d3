// Folders as one record (io/das_source.h): files ordered by start time, contiguous files read
// as one record, gaps and overlaps reported (inspect text and --json, dataset build, infer) and
// never crossed by a patch or an inference window.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/das_source.h"
#include "io/dataset.h"
#include "io/hdf5_util.h"
#include "io/record_patches.h"
#include "io/synth_file.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
namespace fx = fixtures;

constexpr int64_t kStepNs = 2000000;  // 500 Hz

// Four one-record files named against their time order: a (t0, 100 samples), b right after a,
// c after a 0.5 s gap, d overlapping the last 20 samples of c; plus a text file the readers
// refuse when `with_bad` is set.
struct Folder {
  std::string dir, a, b, c, d;
  explicit Folder(const std::string& tag) : dir(fx::make_temp_dir(tag)) {
    a = dir + "/3_a.h5", b = dir + "/1_b.h5", c = dir + "/4_c.h5", d = dir + "/2_d.h5";
    fx::Spec spec;
    spec.channels = 16;
    spec.samples = 100;
    fx::write_prodml(a, spec, "2.0");
    spec.start_ns += 100 * kStepNs;
    fx::write_prodml(b, spec, "2.0");
    spec.start_ns += 100 * kStepNs + 500000000LL;
    fx::write_prodml(c, spec, "2.0");
    spec.start_ns += 80 * kStepNs;
    fx::write_prodml(d, spec, "2.0");
  }
  ~Folder() { fs::remove_all(dir); }
};

TEST(DasFolders, OrderedByTimeWithTheGapAndTheOverlap) {
  Folder f("folder-series");
  const DasSeries series = order_series(expand_das_inputs({f.dir}));
  ASSERT_EQ(series.segments.size(), 3u);
  EXPECT_EQ(series.segments[0].files(), (std::vector<std::string>{f.a, f.b}));
  EXPECT_EQ(series.segments[0].info().num_samples, 200u);
  EXPECT_EQ(series.segments[1].files(), std::vector<std::string>{f.c});
  EXPECT_EQ(series.segments[2].files(), std::vector<std::string>{f.d});
  ASSERT_EQ(series.breaks.size(), 2u);
  EXPECT_TRUE(series.breaks[0].is_gap());
  EXPECT_EQ(series.breaks[0].gap_ns, 500000000LL);
  EXPECT_EQ(series.breaks[0].describe(), "gap of 0.5 s between " + f.b + " and " + f.c);
  EXPECT_TRUE(series.breaks[1].is_overlap());
  EXPECT_EQ(series.breaks[1].gap_ns, -20 * kStepNs);
  EXPECT_EQ(series.breaks[1].describe(), "overlap of 0.04 s between " + f.c + " and " + f.d);

  // Reading across a and b gives a's samples then b's; a window narrowed into b locates in b.
  const DasSource& ab = series.segments[0];
  ReadWindow across;
  across.first_sample = 90;
  across.num_samples = 20;
  const DasRecord joined = ab.read(across);
  for (size_t ch = 0; ch < 16; ++ch)
    for (size_t t = 0; t < 20; ++t) ASSERT_EQ(joined.at(ch, t), fx::value(ch, t < 10 ? 90 + t : t - 10)) << ch << " " << t;
  const DasSource::Location at = ab.locate(3, 150);
  EXPECT_EQ(at.path, f.b);
  EXPECT_EQ(at.sample, 50u);
}

TEST(DasFolders, PatchGridsSpanContiguousFilesOnly) {
  Folder f("folder-grid");
  const DasSeries series = order_series(expand_das_inputs({f.dir}));
  // 30-sample patches from sample 0 of a+b: patch 3 covers samples 90..119, a's end and b's start.
  RecordPatches grid(series.segments[0], 16, 30);
  EXPECT_EQ(grid.cols(), 6u);  // 200 samples: no patch reaches past b into the gap
  grid.load_window(0);
  const float* crossing = grid.patch(0, 3);
  EXPECT_EQ(crossing[9], fx::value(0, 99));
  EXPECT_EQ(crossing[10], fx::value(0, 0));  // b's first sample
  EXPECT_EQ(RecordPatches(series.segments[1], 16, 30).cols(), 3u);  // c alone
}

TEST(DasFolders, InspectReportsBreaksInTextAndJson) {
  Folder f("folder-inspect");
  fx::write_bytes(f.dir + "/5_notes.txt", "not a DAS file\n");
  const std::string scratch = fx::make_temp_dir("folder-inspect-out");  // not in the folder inspected
  auto r = testing::run_dasnet("inspect --json \"" + f.dir + "\"", scratch);
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the unreadable file is an error, after everything else
  const auto j = nlohmann::json::parse(r.out).at(0);
  EXPECT_EQ(j["files"], 5);
  ASSERT_EQ(j["records"].size(), 3u);
  EXPECT_EQ(j["records"][0]["samples"], 200);
  ASSERT_EQ(j["breaks"].size(), 2u);
  EXPECT_EQ(j["breaks"][0]["kind"], "gap");
  EXPECT_DOUBLE_EQ(j["breaks"][0]["seconds"].get<double>(), 0.5);
  EXPECT_EQ(j["breaks"][1]["kind"], "overlap");
  EXPECT_DOUBLE_EQ(j["breaks"][1]["seconds"].get<double>(), 0.04);
  ASSERT_EQ(j["unreadable"].size(), 1u);
  EXPECT_NE(j["unreadable"][0].get<std::string>().find("5_notes.txt"), std::string::npos);
  fs::remove(f.dir + "/5_notes.txt");
  r = testing::run_dasnet("inspect \"" + f.dir + "\"", scratch);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 files, 3 continuous record(s), 2 break(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("break: gap of 0.5 s between " + f.b + " and " + f.c), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("break: overlap of 0.04 s"), std::string::npos) << r.out;
  fs::remove_all(scratch);
}

// Three synthetic records of 200 channels x 20.1 s (10050 samples, so a patch grid runs across
// the join of the first two), the third after a 5 s gap; vehicles give both classes.
std::vector<std::string> write_synthetic_folder(const std::string& dir) {
  std::vector<std::string> files;
  for (int k = 0; k < 3; ++k) {
    SynthOptions o;
    o.channels = 200;
    o.duration_s = 20.1;
    o.seed = uint64_t(30 + k);
    o.start_time_ns = SynthOptions{}.start_time_ns + int64_t(k) * 20100000000LL + (k == 2 ? 5000000000LL : 0);
    SynthScene scene;
    WaveSource v = make_vehicle(o, uint64_t(200 + k), 8, 100, 12, 400);
    v.off_s = 10;
    scene.sources.push_back(v);
    files.push_back(dir + "/part" + std::to_string(k) + ".h5");
    write_synthetic_record(files.back(), o, scene, SynthWriteOptions{});
  }
  return files;
}

TEST(DasFolders, DatasetBuildFromAFolderNeverCutsAPatchAcrossTheGap) {
  const std::string dir = fx::make_temp_dir("folder-dataset");
  write_synthetic_folder(dir);
  const std::string folder = dir;
  const std::string out = fx::make_temp_dir("folder-dataset-out") + "/ds.h5";
  const auto r = testing::run_dasnet("dataset build -q --per-class 4 \"" + folder + "\" -o \"" + out + "\"",
                                     fs::path(out).parent_path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("break: gap of 5 s between " + folder + "/part1.h5 and " + folder + "/part2.h5 (no patch crosses it)"),
            std::string::npos) << r.out;
  const DatasetSummary s = read_dataset_summary(out);
  ASSERT_EQ(s.sources.size(), 3u);
  h5::File file(out);
  size_t checked = 0;
  for (const std::string& split : dataset_splits()) {
    const h5::Node index = file.dataset(split + "/source_index"), sample = file.dataset(split + "/sample");
    for (size_t i = 0; i < index.shape()[0]; ++i, ++checked) {
      const int64_t source = index.int64_at(i), first = sample.int64_at(i);
      // Only part0 runs on into part1; a patch in part1 or part2 ends inside its file.
      if (s.sources[size_t(source)] != folder + "/part0.h5") EXPECT_LE(first + 200, 10050) << split << " " << i;
    }
  }
  EXPECT_EQ(checked, 8u);
  fs::remove_all(dir);
  fs::remove_all(fs::path(out).parent_path());
}

TEST(DasFolders, InferMapsEachContinuousRecordOfAFolder) {
  Folder f("folder-infer");
  const std::string work = fx::make_temp_dir("folder-infer-work");
  auto train = testing::run_dasnet("train --depth 2 --epochs 1 --batch-size 16 --synthetic-per-class 16 --image-height 16 "
                                   "--image-width 16 --checkpoint-dir \"" + work + "/ck\" --no-progress --threads 1",
                                   work);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const auto r = testing::run_dasnet("infer \"" + work + "/ck/epoch_0001.h5\" \"" + f.dir + "\" -o \"" + work +
                                     "/maps\" --no-progress --no-png --threads 1", work);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("break: gap of 0.5 s between " + f.b + " and " + f.c + " (no map crosses it)"), std::string::npos)
      << r.out;
  const h5::File joined(work + "/maps/3_a--1_b.pmap.h5");
  EXPECT_EQ(joined.group("/").attr_int64("record_samples"), 200);
  EXPECT_EQ(joined.group("/").attr_int64("start_time_ns"), fx::Spec{}.start_ns);
  EXPECT_TRUE(fs::exists(work + "/maps/4_c.pmap.h5"));
  EXPECT_TRUE(fs::exists(work + "/maps/2_d.pmap.h5"));
  // --time narrows every record: 0.1 s .. 0.3 s of a+b crosses the join.
  const auto w = testing::run_dasnet("infer \"" + work + "/ck/epoch_0001.h5\" \"" + f.a + "\" \"" + f.b + "\" -o \"" +
                                     work + "/win\" --no-progress --no-png --threads 1 --time 0.1/0.18", work);
  ASSERT_EQ(w.exit_code, 0) << w.err << w.out;
  EXPECT_EQ(h5::File(work + "/win/3_a.pmap.h5").group("/").attr_int64("record_samples"), 40);
  EXPECT_EQ(h5::File(work + "/win/3_a.pmap.h5").group("/").attr_int64("start_time_ns"), fx::Spec{}.start_ns + 50 * kStepNs);
  fs::remove_all(work);
}

}  // namespace
}  // namespace dasnet
