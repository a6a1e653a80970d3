// dasnet dataset build | info | reference: data set files and the reference image set.
#include <cstdio>
#include <memory>
#include <sstream>

#include "core/usage_error.h"
#include "io/das_source.h"
#include "io/dataset.h"
#include "io/durable_file.h"
#include "io/reference_set.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/label_flags.h"
#include "tools/progress.h"
#include "tools/selection_flags.h"

namespace dasnet {

namespace {

void add_build(CLI::App* parent) {
  struct Args {
    DatasetBuildOptions build;
    std::string color = "gray", output;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent->add_subcommand("build", "Cut, label, balance and split patches of DAS records into a data set");
  cmd->add_option("records", args->build.records,
                  "DAS record files (any format the readers support) or folders of them; files that follow each "
                  "other in time are read as one record, and no patch is cut across a gap or an overlap")
      ->required();
  cmd->add_option("-o,--output", args->output, "Data set file (HDF5)")->required();
  cmd->add_option("--per-class", args->build.per_class, "Patches per class (study: 1k, 5k, 10k, 50k, 100k, 150k)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--patch-channels", args->build.patch_channels, "Patch height (channels)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--patch-samples", args->build.patch_samples, "Patch width (time samples)")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--seed", args->build.seed, "Random seed (patch choice and split)")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--train", args->build.train_fraction, "Train fraction")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--val", args->build.val_fraction, "Validation fraction (test gets the rest)")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--color", args->color, "gray (1 channel), gray3 (gray copied 3 times, as the study) or viridis")
      ->capture_default_str();
  cmd->add_option("--deflate", args->build.deflate_level, "Compression level 0-9")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  add_label_rule_flags(cmd, args->build.rule);
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  cmd->add_flag("--allow-processed", args->build.allow_processed,
                "Accept processed products (PRODML FBE bands, Febus PSD) as if they were raw data");
  add_selection_flags(cmd, args->build.selection);
  cmd->callback([args] {
    args->build.color = parse_image_color(args->color);
    require_output_not_input(args->output, expand_das_inputs(args->build.records), "--output");
    ProgressLine progress("dataset build", args->quiet);
    args->build.progress = [&](size_t accepted, size_t needed, size_t) {
      progress.update(double(accepted), double(needed), "patches");
    };
    DatasetBuildReport r = build_dataset(args->output, args->build);
    progress.finish();
    for (const std::string& b : r.breaks) std::printf("break: %s (no patch crosses it)\n", b.c_str());
    std::printf("wrote %s: train %zu, val %zu, test %zu (per class %zu)\n", args->output.c_str(), r.split_sizes[0],
                r.split_sizes[1], r.split_sizes[2], args->build.per_class);
    std::printf("scanned %zu patches:", r.scanned);
    for (int l = 0; l < kNumPatchLabels; ++l) std::printf(" %s %zu", patch_label_name(PatchLabel(l)), r.label_counts[l]);
    std::printf("\nskipped: constant %zu, non-finite %zu; records smaller than a patch: %zu\n", r.skipped_constant,
                r.skipped_non_finite, r.records_too_small);
  });
}

void add_info(CLI::App* parent) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = parent->add_subcommand("info", "Print the counts and build parameters of a data set");
  cmd->add_option("file", *path, "Data set file")->required();
  cmd->callback([path] {
    DatasetSummary s = read_dataset_summary(*path);
    std::printf("%s: schema %lld, images %d x %d x %d (%s)\n", path->c_str(), static_cast<long long>(s.schema_version),
                s.channels, s.height, s.width, s.color.c_str());
    for (size_t i = 0; i < s.splits.size(); ++i) {
      size_t total = 0;
      std::ostringstream per;
      for (size_t k = 0; k < s.counts[i].size(); ++k) {
        total += s.counts[i][k];
        per << " " << s.class_names[k] << " " << s.counts[i][k];
      }
      std::printf("  %-5s %zu:%s\n", s.splits[i].c_str(), total, per.str().c_str());
    }
    std::printf("sources: %zu\n", s.sources.size());
    for (const auto& src : s.sources) std::printf("  %s\n", src.c_str());
    if (!s.build_parameters.empty()) std::printf("build parameters: %s\n", s.build_parameters.c_str());
  });
}

// "name=FILE:CHANNEL:SAMPLE"
void parse_pick(const std::string& pick, std::string& name, std::string& file, size_t& channel, size_t& sample) {
  const size_t eq = pick.find('='), c2 = pick.rfind(':');
  const size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : pick.rfind(':', c2 - 1);
  if (eq == std::string::npos || c1 == std::string::npos || c1 < eq)
    throw UsageError("--pick must be NAME=FILE:CHANNEL:SAMPLE, got '" + pick + "'");
  name = pick.substr(0, eq);
  file = pick.substr(eq + 1, c1 - eq - 1);
  channel = flag_checks::parse_count(pick.substr(c1 + 1, c2 - c1 - 1), "--pick " + pick + ": CHANNEL");
  sample = flag_checks::parse_count(pick.substr(c2 + 1), "--pick " + pick + ": SAMPLE");
  bool known = false;
  for (const auto& k : reference_kinds()) known = known || name == k.name;
  if (!known) throw UsageError("--pick: unknown reference '" + name + "' (white_noise, coherent_waves, noncoherent_waves, saturated)");
}

void add_reference(CLI::App* parent) {
  struct Args {
    ReferenceBuildOptions ref;
    std::string color = "gray", output;
    std::vector<std::string> picks;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent->add_subcommand("reference", "Write the four reference images with their expected P(usable)");
  cmd->add_option("-o,--output", args->output, "Reference set file (HDF5)")->required();
  cmd->add_option("--seed", args->ref.seed, "Seed of the synthetic references")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--color", args->color, "gray, gray3 or viridis (match the data set)")->capture_default_str();
  cmd->add_option("--patch-channels", args->ref.patch_channels, "Patch height")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--patch-samples", args->ref.patch_samples, "Patch width")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--noise", args->ref.noise_level, "Synthetic instrument noise std, counts")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--pick", args->picks, "Replace a synthetic reference: NAME=FILE:CHANNEL:SAMPLE");
  cmd->callback([args] {
    args->ref.color = parse_image_color(args->color);
    std::vector<ReferenceImage> refs = synthetic_reference_set(args->ref);
    for (const auto& pick : args->picks) {
      std::string name, file;
      size_t channel = 0, sample = 0;
      parse_pick(pick, name, file, channel, sample);
      require_output_not_input(args->output, {file}, "--output");
      for (auto& r : refs)
        if (r.name == name) r = reference_from_record(name, file, channel, sample, args->ref);
    }
    save_reference_set(args->output, refs);
    std::printf("wrote %s:\n", args->output.c_str());
    for (const auto& r : refs)
      std::printf("  %-18s %s expected P(usable) %.2f-%.2f  (%s)\n", r.name.c_str(), r.shape.str().c_str(),
                  r.expected_min, r.expected_max, r.origin.c_str());
  });
}

}  // namespace

void add_dataset_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("dataset", "Build and inspect data sets and reference sets");
  cmd->require_subcommand(1);
  add_build(cmd);
  add_info(cmd);
  add_reference(cmd);
}

}  // namespace dasnet
