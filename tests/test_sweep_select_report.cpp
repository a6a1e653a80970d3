// Model selection on a crafted ledger (Table 1 layout, ranking, CSV) and the report's figures.
#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "sweep/ledger.h"
#include "sweep/model_selection.h"
#include "sweep_test_util.h"

namespace dasnet {
namespace {

using sweep_testing::dasnet;
using sweep_testing::read_text;
using sweep_testing::scratch_dir;

// trials x epochs with probabilities that put trial 2 epochs 3-4 in every range (epoch 3 nearest).
void craft_ledger(const std::string& path, int trials, int epochs) {
  Ledger ledger(path);
  std::vector<std::string> configs;
  const int depths[] = {2, 8, 14, 20, 26, 32};
  const double lrs[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5};
  for (int i = 0; i < trials; ++i) {
    TrialConfig t;
    t.depth = depths[i % 6];
    t.lr = lrs[(i / 6) % 6];
    t.batch_size = i % 2 ? 64 : 128;
    t.images_per_class = i % 3 ? 1000 : 5000;
    t.epochs = epochs;
    t.seed = uint64_t(i / 36);
    configs.push_back(t.to_json());
  }
  ledger.add_trials(configs);
  for (int i = 0; i < trials; ++i) {
    auto row = ledger.claim("/tmp/runs");
    for (int e = 1; e <= epochs; ++e) {
      EpochRow r;
      r.trial_id = row->id;
      r.metrics.epoch = e;
      r.metrics.train_loss = 0.7 / (e + i % 5);
      r.metrics.val_accuracy = 0.5 + 0.45 * (1 - std::exp(-0.3 * e * (1 + i % 4)));
      r.metrics.samples_per_s = 100.0 * (1 + i % 3) + 10 * e;
      double noise = std::sin(i * 7.0 + e);
      r.metrics.p_usable = {{"white_noise", 0.3 + 0.2 * noise},
                    {"coherent_waves", 0.6 + 0.3 * noise},
                    {"noncoherent_waves", 0.5},
                    {"saturated", 0.6}};
      if (row->id == 2 && (e == 3 || e == 4))
        r.metrics.p_usable = {{"white_noise", e == 3 ? 0.04 : 0.09},
                      {"coherent_waves", 0.95},
                      {"noncoherent_waves", 0.8},
                      {"saturated", e == 3 ? 0.25 : 0.21}};
      ledger.record_epoch(row->lease(), r);
    }
    ledger.finish(row->lease(), TrialState::complete, "");
  }
}

TEST(SweepSelect, RanksMatchesByDistanceToTheRangeCentres) {
  auto dir = scratch_dir("select");
  craft_ledger(dir + "/l.db", 6, 5);
  Ledger ledger(dir + "/l.db");
  auto ranges = study_reference_ranges();
  auto rows = rank_models(ledger, ranges);
  ASSERT_EQ(rows.size(), 30u);
  ASSERT_TRUE(rows[0].matches(4));
  ASSERT_TRUE(rows[1].matches(4));
  EXPECT_FALSE(rows[2].matches(4));
  EXPECT_EQ(rows[0].trial_id, 2);
  EXPECT_EQ(rows[0].epoch, 3);  // nearer the centres than epoch 4
  EXPECT_EQ(rows[1].epoch, 4);
  EXPECT_LT(rows[0].distance, rows[1].distance);
  EXPECT_NEAR(rows[0].p[3], 0.25, 1e-9);  // saturated, in the ranges' order whatever the storage order

  auto r = dasnet("select --ledger l.db --csv sel.csv", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 of 30 (trial, epoch) models match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("depth"), std::string::npos);
  std::string csv = read_text(dir + "/sel.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);  // header + 2 matches
  // A wider custom range lets more through; a malformed one names the flag.
  auto wide = dasnet("select --ledger l.db --range white_noise=0:1 --range coherent_waves=0:1 "
                     "--range noncoherent_waves=0:1 --range saturated=0:1",
                     dir);
  EXPECT_NE(wide.out.find("30 of 30"), std::string::npos) << wide.out;
  auto bad = dasnet("select --ledger l.db --range saturated=0.3", dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--range"), std::string::npos) << bad.out;
}

// Standard deviation of the pixel values of a PNG (RGB or RGBA, 8 bit).
double png_pixel_std(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return -1;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return -1;
  }
  png_init_io(png, f.get());
  png_read_png(png, info, PNG_TRANSFORM_STRIP_16 | PNG_TRANSFORM_PACKING | PNG_TRANSFORM_EXPAND, nullptr);
  png_bytepp rows = png_get_rows(png, info);
  const size_t height = png_get_image_height(png, info), bytes = png_get_rowbytes(png, info);
  double sum = 0, sum2 = 0, n = 0;
  for (size_t y = 0; y < height; ++y)
    for (size_t x = 0; x < bytes; ++x) {
      double v = rows[y][x];
      sum += v, sum2 += v * v, n += 1;
    }
  png_destroy_read_struct(&png, &info, nullptr);
  return std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
}

TEST(SweepReport, FiguresHaveRealContent) {
  auto dir = scratch_dir("report");
  craft_ledger(dir + "/l.db", 72, 6);  // 432 (trial, epoch) rows
  auto csv_only = dasnet("report --ledger l.db -o out --csv-only", dir);
  ASSERT_EQ(csv_only.code, 0) << csv_only.out;
  std::string runs = read_text(dir + "/out/runs.csv");
  EXPECT_EQ(std::count(runs.begin(), runs.end(), '\n'), 433);
  EXPECT_EQ(runs.rfind("trial,epoch,state,processor,ranks,images_per_class", 0), 0u);
  if (!sweep_testing::have_matplotlib()) {
    GTEST_SKIP() << "matplotlib is missing (python3 -m pip install -r scripts/pip-packages.txt): figures not tested";
  }
  auto r = dasnet("report --ledger l.db -o out", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* name : {"parallel_coordinates", "throughput", "reference_heatmaps", "curves"}) {
    std::string png = dir + "/out/" + name + ".png", svg = read_text(dir + "/out/" + name + ".svg");
    EXPECT_GT(png_pixel_std(png), 10.0) << png;
    EXPECT_GT(std::count(svg.begin(), svg.end(), '<'), 200) << name;
  }
  // Every (trial, epoch) is a polyline of the parallel-coordinates plot; the matches are boxed.
  std::string pc = read_text(dir + "/out/parallel_coordinates.svg");
  size_t paths = 0;
  for (size_t at = pc.find("<path"); at != std::string::npos; at = pc.find("<path", at + 1)) ++paths;
  EXPECT_GT(paths, 432u);
  std::string html = read_text(dir + "/out/report.html");
  EXPECT_GE(std::count(html.begin(), html.end(), '\n'), 4);
  size_t images = 0;
  for (size_t at = html.find("data:image/png;base64,"); at != std::string::npos;
       at = html.find("data:image/png;base64,", at + 1))
    ++images;
  EXPECT_EQ(images, 4u);
  EXPECT_NE(html.find("Models matching every reference range (2)"), std::string::npos);
  auto seen = sweep_testing::open_in_browser(dir + "/out/report.html", 4);
  if (seen.code == sweep_testing::kBrowserMissing) GTEST_SKIP() << seen.out << ": report.html not opened in a browser";
  EXPECT_EQ(seen.code, 0) << seen.out;
}

// The checker itself fails on what a user would see as broken.
TEST(BrowserCheck, FailsOnABlankPageAMissingImageAndAConsoleError) {
  auto dir = scratch_dir("browser");
  sweep_testing::write_text(dir + "/blank.html", "<!doctype html><html><body></body></html>");
  sweep_testing::write_text(dir + "/image.html", "<html><body><p>text</p><img alt='lost' src='lost.png'></body></html>");
  sweep_testing::write_text(dir + "/console.html", "<html><body><p>text</p><script>console.error('boom')</script></body></html>");
  sweep_testing::write_text(dir + "/fine.html", "<html><body><p>text</p></body></html>");
  auto fine = sweep_testing::open_in_browser(dir + "/fine.html", 0);
  if (fine.code == sweep_testing::kBrowserMissing) GTEST_SKIP() << fine.out;
  EXPECT_EQ(fine.code, 0) << fine.out;
  auto blank = sweep_testing::open_in_browser(dir + "/blank.html", 0);
  EXPECT_EQ(blank.code, 1) << blank.out;
  EXPECT_NE(blank.out.find("blank"), std::string::npos) << blank.out;
  auto image = sweep_testing::open_in_browser(dir + "/image.html", 1);
  EXPECT_EQ(image.code, 1) << image.out;
  EXPECT_NE(image.out.find("image did not load: lost"), std::string::npos) << image.out;
  auto console = sweep_testing::open_in_browser(dir + "/console.html", 0);
  EXPECT_EQ(console.code, 1) << console.out;
  EXPECT_NE(console.out.find("console.error: boom"), std::string::npos) << console.out;
}

// One training run's page: curves, the references per epoch, Table 1 and a usable-energy map,
// as a user opens it.
TEST(RunSummary, TrainingRunPageOpensInABrowser) {
  auto dir = scratch_dir("run_summary");
  for (const char* step : {"synth --channels 400 --duration 120 --vehicles 2 --seed 1 -o rec.h5",
                           "dataset build rec.h5 --per-class 24 --seed 1 -o ds.h5", "dataset reference -o ref.h5",
                           "train --data ds.h5 --reference ref.h5 --depth 2 --batch-size 16 --epochs 2 "
                           "--metrics m.jsonl --checkpoint-dir ck --no-progress",
                           "infer ck/epoch_0002.h5 rec.h5 -o maps --no-progress"}) {
    auto r = dasnet(step, dir);
    ASSERT_EQ(r.code, 0) << step << "\n" << r.out;
  }
  auto refused = dasnet("report --map maps/rec.pmap.h5 -o out", dir);
  EXPECT_EQ(refused.code, 2) << refused.out;
  if (!sweep_testing::have_matplotlib()) GTEST_SKIP() << "matplotlib is missing: the page is not tested";
  auto r = dasnet("report --metrics m.jsonl --reference ref.h5 --map maps/rec.pmap.h5 -o out", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* name : {"run_curves", "run_references", "run_map_rec"})
    EXPECT_GT(png_pixel_std(dir + "/out/" + name + ".png"), 10.0) << name;
  std::string html = read_text(dir + "/out/summary.html");
  EXPECT_NE(html.find("Table 1"), std::string::npos);
  EXPECT_NE(html.find("<td>saturated</td><td>0.2 - 0.3</td>"), std::string::npos) << html.substr(0, 2000);
  auto seen = sweep_testing::open_in_browser(dir + "/out/summary.html", 3);
  if (seen.code == sweep_testing::kBrowserMissing) GTEST_SKIP() << seen.out << ": summary.html not opened in a browser";
  EXPECT_EQ(seen.code, 0) << seen.out;
}

// The study's Figure 2 on this hardware: bench scaling's measured rows and predictions drawn as a
// throughput map with the cost model beside it, in a page that opens in a browser.
TEST(ScalingReport, ThroughputMapPageOpensInABrowser) {
  auto dir = scratch_dir("scaling_report");
  auto r = dasnet("bench scaling --depths 2 --batches 4,8 --sizes 32,64 --image-size 16 --steps 1 --threads 1 "
                  "--csv measured.csv --predictions-csv predicted.csv",
                  dir);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string predicted = read_text(dir + "/predicted.csv");
  EXPECT_NE(predicted.find("\"V100 (assumed)\",14,128,0,32,"), std::string::npos) << predicted.substr(0, 500);
  auto refused = dasnet("report --predictions predicted.csv -o out", dir);
  EXPECT_EQ(refused.code, 2) << "--predictions needs --scaling: " << refused.out;
  if (!sweep_testing::have_matplotlib()) GTEST_SKIP() << "matplotlib is missing: the page is not tested";
  r = dasnet("report --scaling measured.csv --predictions predicted.csv -o out", dir);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* name : {"scaling_map", "scaling_predictions"})
    EXPECT_GT(png_pixel_std(dir + "/out/" + name + ".png"), 10.0) << name;
  const std::string html = read_text(dir + "/out/report.html");
  EXPECT_NE(html.find("4 measured configurations"), std::string::npos) << html.substr(0, 2000);
  auto seen = sweep_testing::open_in_browser(dir + "/out/report.html", 2);
  if (seen.code == sweep_testing::kBrowserMissing) GTEST_SKIP() << seen.out << ": report.html not opened in a browser";
  EXPECT_EQ(seen.code, 0) << seen.out;
}

}  // namespace
}  // namespace dasnet
