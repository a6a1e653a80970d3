// dasnet infer: usable-energy probability maps of long DAS records (HDF5 + PNG per record).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/resnet.h"
#include "engine/trainer.h"
#include "infer/probability_map.h"
#include "io/checkpoint.h"
#include "tools/commands.h"
#include "tools/run_options.h"

namespace dasnet {

void add_infer_command(CLI::App& app) {
  struct Infer {
    std::string checkpoint, out_dir;
    std::vector<std::string> files;
    BackendOptions backend;
    InferOptions options;
    int stride = 0;
    bool no_progress = false, no_png = false;
  };
  auto cmd = std::make_shared<Infer>();
  CLI::App* sub = app.add_subcommand("infer", "Probability maps of usable energy over long records (sliding window)");
  sub->add_option("checkpoint", cmd->checkpoint, "Model checkpoint (epoch_NNNN.h5)")->required()->check(CLI::ExistingFile);
  sub->add_option("files", cmd->files, "DAS records, any supported format")->required()->check(CLI::ExistingFile);
  sub->add_option("-o,--out", cmd->out_dir, "Output folder: <name>.pmap.h5 and <name>.png per record")->required();
  sub->add_option("--stride", cmd->stride, "Window step in both directions (default: the image size, no overlap)");
  sub->add_option("--stride-channels", cmd->options.stride_channels, "Window step along distance (channels)");
  sub->add_option("--stride-samples", cmd->options.stride_samples, "Window step along time (samples)");
  sub->add_option("--batch-size", cmd->options.batch_size, "Windows per forward pass")->capture_default_str();
  cmd->backend.add_to(sub);
  sub->add_flag("--no-png", cmd->no_png, "Write only the HDF5 map");
  sub->add_flag("--no-progress", cmd->no_progress, "No live progress line");
  sub->callback([cmd] {
    if (cmd->stride < 0) throw UsageError("--stride must be >= 0");
    if (cmd->stride > 0) {
      if (cmd->options.stride_channels == 0) cmd->options.stride_channels = cmd->stride;
      if (cmd->options.stride_samples == 0) cmd->options.stride_samples = cmd->stride;
    }
    auto backend = cmd->backend.create();
    TrainingState state = load_checkpoint(cmd->checkpoint);
    auto net = build_resnet(state.model, *backend, 0);
    load_weights(*net, state);
    std::filesystem::create_directories(cmd->out_dir);
    std::printf("dasnet infer: ResNet-%d, %d x %d x %d windows, %zu record(s)\n", state.model.depth,
                state.model.in_channels, state.model.height, state.model.image_width, cmd->files.size());
    std::fflush(stdout);
    double all_bytes = 0, all_seconds = 0;
    size_t all_windows = 0;
    for (const auto& file : cmd->files) {
      const std::string stem = std::filesystem::path(file).stem().string();
      const auto started = std::chrono::steady_clock::now();
      InferOptions options = cmd->options;
      if (!cmd->no_progress)
        options.progress = [&](double done, double total) {
          double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          std::fprintf(stderr, "\r%s: %5.1f%%  %.1f MB/s  ", stem.c_str(), total > 0 ? 100 * done / total : 100.0,
                       s > 0 ? done / 1e6 / s : 0.0);
          std::fflush(stderr);
        };
      ProbabilityMap map = infer_probability_map(*net, state.model, file, options);
      if (!cmd->no_progress) std::fprintf(stderr, "\n");
      const std::string h5 = (std::filesystem::path(cmd->out_dir) / (stem + ".pmap.h5")).string();
      write_probability_map_h5(h5, map, cmd->checkpoint);
      if (!cmd->no_png) write_probability_map_png((std::filesystem::path(cmd->out_dir) / (stem + ".png")).string(), map);
      double usable = 0;
      size_t scored = 0;
      for (float p : map.p)
        if (!std::isnan(p)) usable += p >= 0.5f, ++scored;
      std::printf("%s: %zu x %zu samples (%s), %zu windows (%zu skipped), %.1f MB in %.2f s = %.1f MB/s, "
                  "%.0f windows/s; %.1f%% of cells P >= 0.5 -> %s\n",
                  file.c_str(), map.record_channels, map.record_samples, map.format.c_str(), map.windows,
                  map.skipped_windows, map.raw_bytes / 1e6, map.seconds, map.raw_bytes / 1e6 / map.seconds,
                  map.windows / map.seconds, scored ? 100.0 * usable / scored : 0.0, h5.c_str());
      std::fflush(stdout);
      all_bytes += map.raw_bytes;
      all_seconds += map.seconds;
      all_windows += map.windows;
    }
    if (cmd->files.size() > 1)
      std::printf("total: %.1f MB in %.2f s = %.1f MB/s, %zu windows\n", all_bytes / 1e6, all_seconds,
                  all_bytes / 1e6 / all_seconds, all_windows);
  });
}

}  // namespace dasnet
