// dasnet label: applies the study's spectral labeling rule to every non-overlapping patch of DAS
// records; prints label counts and, for synthetic records, a confusion table against the truth.
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "engine/tensor.h"
#include "io/labeling.h"
#include "io/record_patches.h"
#include "io/synth_file.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/label_flags.h"
#include "tools/progress.h"

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

void add_label_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    int patch_channels = 200, patch_samples = 200;
    LabelRule rule;
    std::string csv;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("label", "Label the patches of DAS records with the study's spectral rule");
  cmd->add_option("files", args->files, "DAS record files")->required();
  cmd->add_option("--patch-channels", args->patch_channels, "Patch height (channels)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--patch-samples", args->patch_samples, "Patch width (time samples)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  add_label_rule_flags(cmd, args->rule);
  cmd->add_option("--csv", args->csv, "Write file,channel,sample,label,truth per patch to this file");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  cmd->callback([args] {
    if (args->patch_channels < 1 || args->patch_samples < 2) throw UsageError("--patch-channels/--patch-samples too small");
    if (args->rule.bins < 1) throw UsageError("--bins must be positive");
    std::ofstream csv;
    if (!args->csv.empty()) {
      csv.open(args->csv);
      if (!csv) throw std::runtime_error(args->csv + ": cannot write");
      csv << "file,channel,sample,label,truth\n";
    }
    size_t counts[kNumPatchLabels] = {};
    size_t confusion[kNumTruthClasses][kNumPatchLabels] = {};
    bool any_truth = false;
    for (const auto& file : args->files) {
      RecordPatches patches(file, size_t(args->patch_channels), size_t(args->patch_samples));
      TruthMap truth = read_truth(file);
      any_truth = any_truth || !truth.empty();
      if (patches.rows() * patches.cols() == 0)
        std::fprintf(stderr, "dasnet label: %s: %zu x %zu record is smaller than one %d x %d patch\n", file.c_str(),
                     patches.info().num_channels, patches.info().num_samples, args->patch_channels,
                     args->patch_samples);
      PatchLabeler labeler(args->patch_channels, args->patch_samples, patches.info().sampling_rate_hz, args->rule);
      ProgressLine progress("label " + file, args->quiet);
      std::vector<PatchLabel> labels;
      for (size_t w = 0; w < patches.windows(); ++w) {
        patches.load_window(w);
        const size_t rows = patches.rows(), cols = patches.window_cols(), col0 = patches.window_first_col();
        labels.assign(rows * cols, PatchLabel::other);
#pragma omp parallel for schedule(dynamic)
        for (size_t k = 0; k < rows * cols; ++k)
          labels[k] = labeler.label(patches.patch(k / cols, col0 + k % cols), patches.row_stride());
        for (size_t k = 0; k < rows * cols; ++k) {
          const size_t ch = patches.patch_channel(k / cols), t = patches.patch_sample(col0 + k % cols);
          ++counts[int(labels[k])];
          std::string truth_name;
          if (!truth.empty()) {
            TruthClass tc = truth.patch_class(ch, size_t(args->patch_channels), t, size_t(args->patch_samples));
            ++confusion[int(tc)][int(labels[k])];
            truth_name = truth_class_name(tc);
          }
          if (csv.is_open())
            csv << file << ',' << ch << ',' << t << ',' << patch_label_name(labels[k]) << ',' << truth_name << '\n';
        }
        progress.update(double(col0 + cols), double(patches.cols()), "columns");
      }
    }
    size_t total = 0;
    for (size_t c : counts) total += c;
    std::printf("patches: %zu\n", total);
    for (int l = 0; l < kNumPatchLabels; ++l) std::printf("  %-10s %zu\n", patch_label_name(PatchLabel(l)), counts[l]);
    if (any_truth) {
      std::printf("confusion (rows: generator truth, columns: rule label)\n%-12s", "");
      for (int l = 0; l < kNumPatchLabels; ++l) std::printf(" %9s", patch_label_name(PatchLabel(l)));
      std::printf("\n");
      for (int t = 0; t < kNumTruthClasses; ++t) {
        std::printf("%-12s", truth_class_name(TruthClass(t)));
        for (int l = 0; l < kNumPatchLabels; ++l) std::printf(" %9zu", confusion[t][l]);
        std::printf("\n");
      }
    }
  });
}

}  // namespace dasnet
