// dasnet infer: usable-energy probability maps of long DAS records (HDF5 + PNG per record), on
// one process or the ranks of mpirun/srun (infer/inference_job.h).
#include "core/usage_error.h"
#include "infer/inference_job.h"
#include "kernels/backend_factory.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/run_options.h"
#include "tools/selection_flags.h"

namespace dasnet {

void add_infer_command(CLI::App& app) {
  struct Infer {
    InferenceJob job;
    BackendOptions backend;
    int stride = 0;
    bool no_progress = false, no_png = false;
  };
  auto cmd = std::make_shared<Infer>();
  InferenceJob& job = cmd->job;
  CLI::App* sub = app.add_subcommand("infer", "Probability maps of usable energy over long records (sliding window)");
  sub->add_option("checkpoint", job.checkpoint, "Model checkpoint (epoch_NNNN.h5)")->required()->check(CLI::ExistingFile);
  sub->add_option("files", job.files,
                  "DAS records, any supported format, or folders of them (files that follow each other in time are "
                  "one record; maps stop at gaps and overlaps)")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("-o,--out", job.out_dir, "Output folder: <name>.pmap.h5 and <name>.png per record (records of one name from "
                  "different folders keep those folders: a/rec.pmap.h5, b/rec.pmap.h5)")->required();
  sub->add_option("--stride", cmd->stride, "Window step in both directions (default: the image size, no overlap)")
      ->check(flag_checks::non_negative);
  sub->add_option("--stride-channels", job.options.stride_channels, "Window step along distance (channels)")
      ->check(flag_checks::non_negative);
  sub->add_option("--stride-samples", job.options.stride_samples, "Window step along time (samples)")
      ->check(flag_checks::non_negative);
  sub->add_option("--batch-size", job.options.batch_size, "Windows per forward pass")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--dist-timeout", job.dist_timeout_s,
                  "Under mpirun/srun: seconds a rank may stay silent (it reports every few seconds) before the job "
                  "is aborted")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->backend.add_to(sub);
  add_selection_flags(sub, job.selection);
  sub->add_flag("--no-png", cmd->no_png, "Write only the HDF5 map");
  sub->add_flag("--no-progress", cmd->no_progress, "No live progress line");
  sub->callback([cmd] {
    InferenceJob& job = cmd->job;
    if (cmd->stride < 0) throw UsageError("--stride must be >= 0");
    if (job.dist_timeout_s <= 0) throw UsageError("--dist-timeout must be positive");
    if (cmd->stride > 0) {
      if (job.options.stride_channels == 0) job.options.stride_channels = cmd->stride;
      if (job.options.stride_samples == 0) job.options.stride_samples = cmd->stride;
    }
    job.progress = !cmd->no_progress;
    job.png = !cmd->no_png;
    job.make_backend = [cmd] { return cmd->backend.create(); };
    run_inference_job(job);
  });
}

}  // namespace dasnet
