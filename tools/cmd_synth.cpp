// dasnet synth: writes a synthetic DAS record (PRODML 2.0 or MATLAB v7.3 DSI) with ground truth.
#include <cstdio>
#include <memory>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/synth_file.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/progress.h"

namespace dasnet {

void add_synth_command(CLI::App& app) {
  struct Args {
    SynthOptions synth;
    std::string format = "prodml", layout = "time-locus", dsi_key = "dsi30", output;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a synthetic DAS record with ground-truth labels");
  cmd->add_option("--channels", args->synth.channels, "Fiber channels")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--duration", args->synth.duration_s, "Record length, seconds")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--rate", args->synth.rate_hz, "Sampling rate, Hz")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--spacing", args->synth.spacing_m, "Channel spacing, metres")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->add_option("--seed", args->synth.seed, "Random seed")->capture_default_str()->check(flag_checks::non_negative);
  cmd->add_option("--vehicles", args->synth.vehicles_per_minute, "Vehicles per minute")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--noise", args->synth.noise_level, "Instrument noise std, counts")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--saturation", args->synth.saturation_fraction,
                  "Expected fraction of the time with a saturating event")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--noncoherent", args->synth.noncoherent_fraction,
                  "Expected fraction of the time with a non-coherent wavefield")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  cmd->add_option("--start-ns", args->synth.start_time_ns, "UTC start, ns since the Unix epoch")
      ->capture_default_str()
      ->check(flag_checks::finite);
  cmd->add_option("--format", args->format, "prodml or dsi")->capture_default_str();
  cmd->add_option("--layout", args->layout, "PRODML axis order: time-locus or locus-time")->capture_default_str();
  cmd->add_option("--dsi-key", args->dsi_key, "Struct name in DSI files (dsi30, data, variable)")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "Output file")->required();
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  cmd->callback([args] {
    args->synth.validate();
    SynthWriteOptions w;
    w.format = parse_synth_format(args->format, args->layout);
    if (args->dsi_key.empty()) throw UsageError("--dsi-key must not be empty");
    w.dsi_key = args->dsi_key;
    SynthScene scene = random_scene(args->synth);
    ProgressLine progress("synth " + args->output, args->quiet);
    const double rate = args->synth.rate_hz;
    w.progress = [&](size_t done, size_t total) { progress.update(done / rate, total / rate, "s"); };
    write_synthetic_record(args->output, args->synth, scene, w);
    progress.finish();
    size_t vehicles = 0, saturating = 0;
    for (const auto& s : scene.sources) (s.saturating ? saturating : vehicles)++;
    std::printf("wrote %s: %d channels x %zu samples (%.1f s at %g Hz), %zu vehicles, %zu saturating events, "
                "%zu non-coherent events\n",
                args->output.c_str(), args->synth.channels, args->synth.total_samples(), args->synth.duration_s,
                rate, vehicles, saturating, scene.noncoherent.size());
  });
}

}  // namespace dasnet
