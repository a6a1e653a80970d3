// The communicator data-parallel training runs on: rank, size, local rank (from a gather of host
// names), barrier, broadcast, all-reduce and abort. Backends: single process (no MPI at all),
// MPI (CPU ranks; ring or library all-reduce) and NCCL (one GPU per rank, bootstrapped over MPI
// when there are several).
// Collectives run under a watchdog: a peer that dies or hangs ends the job with a message
// naming the operation instead of hanging everyone (dist/watchdog.h).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include "core/usage_error.h"

namespace dasnet {

enum class ReduceOp { Sum, Average };

// Which all-reduce the MPI backend uses for float buffers: our ring (dist/ring_allreduce.h),
// MPI_Allreduce, or the faster of the two per size, measured when the communicator starts.
enum class AllreduceChoice { Auto, Ring, Library };
AllreduceChoice parse_allreduce_choice(const std::string& name);  // "auto", "ring", "mpi"

struct CommOptions {
  std::string backend = "auto";  // single, mpi, nccl; auto = mpi when launched by mpirun/srun
  AllreduceChoice allreduce = AllreduceChoice::Auto;
  double timeout_s = 300;  // a collective that takes longer means a peer died or hangs
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the ranks on this host
  virtual int local_size() const = 0;
  virtual void barrier() = 0;
  // Float buffers live where the training backend keeps them (device memory for NCCL).
  virtual void broadcast(float* data, size_t count, int root) = 0;
  virtual void all_reduce(float* data, size_t count, ReduceOp op) = 0;
  // Host buffers: metrics and small control data.
  virtual void all_reduce_sum(double* data, size_t count) = 0;
  virtual void broadcast_bytes(void* data, size_t bytes, int root) = 0;
  // Whether all_reduce may be called from a thread other than the one that created the
  // communicator (MPI_THREAD_MULTIPLE or NCCL); without it, buckets reduce in finish_step.
  virtual bool thread_safe() const = 0;

  // Device communicators (NCCL) run their float collectives in order with the training backend's
  // stream (Backend::native_stream(), a cudaStream_t): each starts once the work queued on it so
  // far is done, and work queued on it later waits for the collective. Others ignore it.
  virtual void set_compute_stream(void* /*stream*/) {}
  // Stream-ordered all-reduce (NCCL): all_reduce_async queues the reduction and returns at once;
  // wait_async() returns when every queued one is done (under the watchdog). Backends whose
  // collectives finish before they return run them in place (asynchronous() false).
  virtual bool asynchronous() const { return false; }
  virtual void all_reduce_async(float* data, size_t count, ReduceOp op) { all_reduce(data, count, op); }
  virtual void wait_async() {}
  // Point-to-point byte messages for small control traffic (the MPI sweep's requests and
  // replies, inference progress); collectives never see them. receive_bytes waits up to
  // timeout_s (0: only looks) for a message with `tag` from `from` (kAnySource: any rank) and
  // returns false when none came. Backends without them (NCCL) throw std::logic_error.
  static constexpr int kAnySource = -1;
  virtual void send_bytes(const std::string& bytes, int dest, int tag);
  virtual bool receive_bytes(std::string* bytes, int* source, int from, int tag, double timeout_s);
  // Prints the message and stops every rank of the job (MPI_Abort / ncclCommAbort).
  [[noreturn]] virtual void abort(const std::string& message) = 0;
  // One-line description for logs (backend, algorithm choice, thresholds).
  virtual std::string describe() const { return name(); }
};

// Ranks the launcher started (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE, SLURM_NTASKS); 1 when
// not launched by mpirun/srun.
int launcher_world_size();
// Whether this build can talk MPI / NCCL.
bool have_mpi();
bool have_nccl();

std::unique_ptr<Communicator> make_single_process_communicator();
// options.backend: "single", "mpi", "nccl" or "auto". Throws UsageError when the build lacks it.
// NCCL bootstraps over MPI when launched with several ranks; a single rank needs no MPI.
std::unique_ptr<Communicator> make_communicator(const CommOptions& options);

}  // namespace dasnet
