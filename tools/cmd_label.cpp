// dasnet label: applies the study's spectral labeling rule to every non-overlapping patch of DAS
// records; prints label counts and, for synthetic records, a confusion table against the truth.
// With --reference it applies the rule's spectral tests to the images of a reference set instead,
// which shows what a model trained on the rule's classes should call each reference.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <numeric>
#include <fstream>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/durable_file.h"
#include "io/labeling.h"
#include "io/record_patches.h"
#include "io/reference_set.h"
#include "io/synth_file.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/label_flags.h"
#include "tools/progress.h"
#include "tools/selection_flags.h"

namespace dasnet {

// Shared by label and dataset build: the rule's thresholds as flags.
void add_label_rule_flags(CLI::App* cmd, LabelRule& rule) {
  cmd->add_option("--saturation-std", rule.saturation_std, "Std of the raw patch above which it is saturated")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--noise-low-hz", rule.noise_low_max_hz, "Noise test: top of the low band, Hz")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--noise-high-hz", rule.noise_high_max_hz, "Noise test: top of the high band, Hz")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--waves-split-hz", rule.waves_split_hz, "Waves test: split frequency, Hz")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--waves-ratio", rule.waves_ratio, "Waves test: max below split over mean above")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--bins", rule.bins, "Leading spectrum bins the rule uses")
      ->capture_default_str()
      ->check(flag_checks::positive);
}

namespace {

// The rule's spectral tests on each reference image. The images are min-max scaled, so each
// channel's mean is removed (undoing the scaling's offset) and the std test, which needs raw
// counts, is skipped; the fraction of pixels at the image's minimum or maximum shows clipping.
void label_references(const std::string& path, double rate_hz, LabelRule rule) {
  rule.saturation_std = std::numeric_limits<double>::infinity();
  std::printf("%s: the rule's spectral tests at %g Hz (std test skipped: the images are scaled)\n", path.c_str(),
              rate_hz);
  std::printf("%-18s %-6s %9s %9s %12s %9s\n", "reference", "label", "low max", "high min", "below/above", "clipped");
  for (const auto& ref : load_reference_set(path)) {
    const int h = ref.shape.h, w = ref.shape.w;
    std::vector<float> plane(ref.image.begin(), ref.image.begin() + long(h) * w);
    auto [lo, hi] = std::minmax_element(plane.begin(), plane.end());
    const float lowest = *lo, highest = *hi;
    size_t clipped = 0;
    for (float v : plane) clipped += v <= lowest || v >= highest;
    for (int r = 0; r < h; ++r) {
      float* row = plane.data() + size_t(r) * w;
      const double mean = std::accumulate(row, row + w, 0.0) / w;
      for (int t = 0; t < w; ++t) row[t] = float(row[t] - mean);
    }
    PatchVerdict v = PatchLabeler(h, w, rate_hz, rule).classify(plane.data(), size_t(w));
    std::printf("%-18s %-6s %9.4f %9.4f %12.1f %8.1f%%\n", ref.name.c_str(), patch_label_name(v.label),
                v.low_band_max, v.high_band_min, v.below_split_max / std::max(v.above_split_mean, 1e-30),
                100.0 * double(clipped) / double(plane.size()));
  }
}

struct LabelArgs {
  std::vector<std::string> files;
  DasSelection selection;
  int patch_channels = 200, patch_samples = 200;
  LabelRule rule;
  std::string csv, reference;
  double reference_rate_hz = 500;
  bool quiet = false;
};

// Label counts over all files and, where a file has the generator's truth, the confusion table.
struct LabelTally {
  size_t counts[kNumPatchLabels] = {};
  size_t confusion[kNumTruthClasses][kNumPatchLabels] = {};
  bool any_truth = false;
};

// Labels one record's patches window by window (a window's patches in parallel), counting them
// and writing one CSV row each in the file's own channels and samples.
void label_file(const LabelArgs& args, const ParsedSelection& selected, const std::string& file, std::ofstream& csv,
                LabelTally& tally) {
  RecordPatches patches(DasSource::file(file).selected(selected), size_t(args.patch_channels),
                        size_t(args.patch_samples));
  TruthMap truth = read_truth(file);
  tally.any_truth = tally.any_truth || !truth.empty();
  if (patches.rows() * patches.cols() == 0)
    std::fprintf(stderr, "dasnet label: %s: %zu x %zu record is smaller than one %d x %d patch\n", file.c_str(),
                 patches.info().num_channels, patches.info().num_samples, args.patch_channels, args.patch_samples);
  PatchLabeler labeler(args.patch_channels, args.patch_samples, patches.info().sampling_rate_hz, args.rule);
  ProgressLine progress("label " + file, args.quiet);
  std::vector<PatchLabel> labels;
  for (size_t w = 0; w < patches.windows(); ++w) {
    patches.load_window(w);
    const size_t rows = patches.rows(), cols = patches.window_cols(), col0 = patches.window_first_col();
    labels.assign(rows * cols, PatchLabel::other);
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < rows * cols; ++k)
      labels[k] = labeler.label(patches.patch(k / cols, col0 + k % cols), patches.row_stride());
    for (size_t k = 0; k < rows * cols; ++k) {
      // In the file's own channels and samples (a --time/--distance window starts inside it).
      const DasSource::Location at =
          patches.source().locate(patches.patch_channel(k / cols), patches.patch_sample(col0 + k % cols));
      const size_t ch = at.channel, t = at.sample;
      ++tally.counts[int(labels[k])];
      std::string truth_name;
      if (!truth.empty()) {
        TruthClass tc = truth.patch_class(ch, size_t(args.patch_channels), t, size_t(args.patch_samples));
        ++tally.confusion[int(tc)][int(labels[k])];
        truth_name = truth_class_name(tc);
      }
      if (csv.is_open())
        csv << file << ',' << ch << ',' << t << ',' << patch_label_name(labels[k]) << ',' << truth_name << '\n';
    }
    progress.update(double(col0 + cols), double(patches.cols()), "columns");
  }
}

void print_tally(const LabelTally& tally) {
  size_t total = 0;
  for (size_t c : tally.counts) total += c;
  std::printf("patches: %zu\n", total);
  for (int l = 0; l < kNumPatchLabels; ++l) std::printf("  %-10s %zu\n", patch_label_name(PatchLabel(l)), tally.counts[l]);
  if (!tally.any_truth) return;
  std::printf("confusion (rows: generator truth, columns: rule label)\n%-12s", "");
  for (int l = 0; l < kNumPatchLabels; ++l) std::printf(" %9s", patch_label_name(PatchLabel(l)));
  std::printf("\n");
  for (int t = 0; t < kNumTruthClasses; ++t) {
    std::printf("%-12s", truth_class_name(TruthClass(t)));
    for (int l = 0; l < kNumPatchLabels; ++l) std::printf(" %9zu", tally.confusion[t][l]);
    std::printf("\n");
  }
}

void run_label(const LabelArgs& args) {
  const ParsedSelection selected = parse_selection(args.selection);
  if (args.patch_channels < 1 || args.patch_samples < 2) throw UsageError("--patch-channels/--patch-samples too small");
  if (args.rule.bins < 1) throw UsageError("--bins must be positive");
  if (!args.reference.empty()) return label_references(args.reference, args.reference_rate_hz, args.rule);
  if (args.files.empty()) throw UsageError("label: give DAS record files or --reference");
  std::ofstream csv;
  if (!args.csv.empty()) {
    require_output_not_input(args.csv, args.files, "--csv");
    csv.open(args.csv);
    if (!csv) throw std::runtime_error(args.csv + ": cannot write");
    csv << "file,channel,sample,label,truth\n";
  }
  LabelTally tally;
  for (const auto& file : args.files) label_file(args, selected, file, csv, tally);
  print_tally(tally);
}

}  // namespace

void add_label_command(CLI::App& app) {
  auto args = std::make_shared<LabelArgs>();
  CLI::App* cmd = app.add_subcommand("label", "Label the patches of DAS records with the study's spectral rule");
  auto* files = cmd->add_option("files", args->files, "DAS record files");
  auto* reference = cmd->add_option("--reference", args->reference,
                                    "Instead of records: the spectral tests on a reference set's images")
                        ->check(CLI::ExistingFile)
                        ->excludes(files);
  cmd->add_option("--reference-rate", args->reference_rate_hz, "With --reference: sampling rate of the images, Hz")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(reference);
  cmd->add_option("--patch-channels", args->patch_channels, "Patch height (channels)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--patch-samples", args->patch_samples, "Patch width (time samples)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  add_label_rule_flags(cmd, args->rule);
  cmd->add_option("--csv", args->csv, "Write file,channel,sample,label,truth per patch to this file");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  add_selection_flags(cmd, args->selection);
  cmd->callback([args] { run_label(*args); });
}

}  // namespace dasnet
