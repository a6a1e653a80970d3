// Flags of data-parallel training shared by dasnet train and dasnet bench scaling.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/backend.h"
#include "core/tensor.h"
#include "core/usage_error.h"
#include "dist/communicator.h"
#include "dist/data_parallel.h"
#include "kernels/backend_factory.h"
#include "tools/flag_checks.h"

namespace dasnet {

struct DistributedFlags {
  bool distributed = false;  // also implied by a launcher (mpirun, srun) that started > 1 rank
  std::string comm = "auto";
  std::string allreduce = "auto";
  int bucket_kb = 1024;
  double timeout_s = 300;
  bool no_overlap = false;

  void add_to(CLI::App* app) {
    app->add_flag("--distributed", distributed,
                  "Data-parallel training over the ranks of mpirun/srun (automatic when launched with > 1 rank)");
    app->add_option("--comm", comm,
                    "Communicator: auto (nccl with --backend cuda, else mpi), mpi (CPU ranks) or nccl (one GPU per "
                    "rank; with one rank it runs NCCL without MPI)")
        ->capture_default_str();
    app->add_option("--allreduce", allreduce,
                    "MPI all-reduce: ring (ours), mpi (MPI_Allreduce) or auto (the faster per size, timed at start)")
        ->capture_default_str();
    app->add_option("--bucket-kb", bucket_kb, "Gradient bucket size in KiB (layers fused up to it)")
        ->capture_default_str()
        ->check(flag_checks::positive);
    app->add_option("--dist-timeout", timeout_s,
                    "Seconds a collective may take before the job is aborted (a rank died or hangs)")
        ->capture_default_str()
        ->check(flag_checks::positive);
    app->add_flag("--no-overlap", no_overlap, "Reduce gradients after backward instead of during it");
  }

  // The communicator of this run for the given --backend: single process unless launched with
  // several ranks or asked; GPU ranks reduce device memory over NCCL, CPU ranks host memory over MPI.
  std::unique_ptr<Communicator> connect(const std::string& backend) const {
    const bool gpu = parse_backend_kind(backend) == BackendKind::Cuda;
    CommOptions options;
    options.backend = comm;
    if (comm == "auto") options.backend = distributed || launcher_world_size() > 1 ? (gpu ? "nccl" : "mpi") : "single";
    if (options.backend == "nccl" && !gpu) throw UsageError("--comm nccl reduces GPU memory: it needs --backend cuda");
    options.allreduce = parse_allreduce_choice(allreduce);
    if (timeout_s <= 0) throw UsageError("--dist-timeout must be positive");
    options.timeout_s = timeout_s;
    auto connected = make_communicator(options);
    if (gpu && connected->name() == "mpi" && connected->size() > 1)
      throw UsageError("--backend cuda across ranks needs --comm nccl: MPI here reduces host memory");
    return connected;
  }

  DataParallelOptions sync_options() const {
    if (bucket_kb <= 0) throw UsageError("--bucket-kb must be positive, got " + std::to_string(bucket_kb));
    DataParallelOptions o;
    o.bucket_bytes = size_t(bucket_kb) * 1024;
    o.overlap = !no_overlap;
    return o;
  }
};

}  // namespace dasnet
