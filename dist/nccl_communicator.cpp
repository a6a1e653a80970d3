#ifdef DASNET_HAVE_NCCL
#include "dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#ifdef DASNET_HAVE_MPI
#include "dist/mpi_communicator.h"
#endif
#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

namespace {

// The communicator that carries the NCCL unique id and the host-side collectives.
std::unique_ptr<Communicator> make_host_communicator(const CommOptions& options) {
  const int ranks = launcher_world_size();
  if (ranks == 1) return make_single_process_communicator();
#ifdef DASNET_HAVE_MPI
  return make_mpi_communicator(options);
#else
  (void)options;
  throw UsageError("--comm nccl across " + std::to_string(ranks) +
                   " ranks needs MPI to start NCCL, and this build of dasnet has none (install libopenmpi-dev and rebuild)");
#endif
}

void check_cuda(cudaError_t code, const char* what) {
  if (code != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(code));
}

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const CommOptions& options)
      : host_(make_host_communicator(options)), timeout_s_(options.timeout_s) {
    if (const char* fixed = std::getenv("DASNET_CUDA_DEVICE"); fixed && *fixed)
      throw UsageError("DASNET_CUDA_DEVICE=" + std::string(fixed) +
                       " puts every rank on one GPU; with --comm nccl each rank takes GPU local_rank % devices "
                       "(unset it; narrow the GPUs with CUDA_VISIBLE_DEVICES)");
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "--comm nccl: no usable CUDA device (cudaGetDeviceCount)");
    if (devices == 0) throw UsageError("--comm nccl: no CUDA device is visible on rank " + std::to_string(rank()));
    // One GPU per rank: the local rank picks it (CUDA_VISIBLE_DEVICES narrows the choice first).
    device_ = host_->local_rank() % devices;
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cuda(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventCreateWithFlags(&collectives_done_, cudaEventDisableTiming), "cudaEventCreate");

    ncclUniqueId id{};
    if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host_->broadcast_bytes(&id, sizeof id, 0);
    // Non-blocking: initialization and every collective can be polled for errors and aborted.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t started = ncclCommInitRankConfig(&comm_, size(), id, rank(), &config);
    if (started != ncclSuccess && started != ncclInProgress) check_nccl(started, "ncclCommInitRankConfig");
    wait_for("NCCL communicator initialization", [] { return true; });
  }

  ~NcclCommunicator() override {
    if (comm_) {
      // Non-blocking communicators finalize in the background: poll (bounded) before destroying;
      // a communicator that does not finish is aborted instead of hanging the exit.
      ncclResult_t state = ncclCommFinalize(comm_);
      const auto start = std::chrono::steady_clock::now();
      while (state == ncclInProgress &&
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout_s_) {
        std::this_thread::yield();
        ncclCommGetAsyncError(comm_, &state);
      }
      if (state == ncclSuccess) ncclCommDestroy(comm_);
      else ncclCommAbort(comm_);
    }
    if (compute_ready_) cudaEventDestroy(compute_ready_);
    if (collectives_done_) cudaEventDestroy(collectives_done_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "nccl"; }
  std::string describe() const override {
    int version = 0;
    ncclGetVersion(&version);
    return "nccl " + std::to_string(version) + " (" + std::to_string(size()) + " ranks, GPU " +
           std::to_string(device_) + " on this rank)";
  }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int local_rank() const override { return host_->local_rank(); }
  int local_size() const override { return host_->local_size(); }
  bool thread_safe() const override { return true; }
  void barrier() override { host_->barrier(); }
  void all_reduce_sum(double* data, size_t count) override { host_->all_reduce_sum(data, count); }
  void broadcast_bytes(void* data, size_t bytes, int root) override { host_->broadcast_bytes(data, bytes, root); }

  void set_compute_stream(void* stream) override { compute_stream_ = static_cast<cudaStream_t>(stream); }
  bool asynchronous() const override { return true; }

  void broadcast(float* data, size_t count, int root) override {
    const std::string what = "NCCL broadcast of " + std::to_string(count) + " floats";
    after_compute();
    check_nccl(ncclBroadcast(data, data, count, ncclFloat, root, comm_, stream_), "ncclBroadcast");
    wait_for(what, [] { return true; });  // enqueued (non-blocking communicators may still be queuing)
    wait_async_named(what);
  }

  void all_reduce(float* data, size_t count, ReduceOp op) override {
    if (count == 0) return;
    all_reduce_async(data, count, op);
    wait_async_named("NCCL all-reduce of " + std::to_string(count) + " floats");
  }

  void all_reduce_async(float* data, size_t count, ReduceOp op) override {
    if (count == 0) return;
    ncclRedOp_t nccl_op = op == ReduceOp::Average ? ncclAvg : ncclSum;
    after_compute();
    check_nccl(ncclAllReduce(data, data, count, ncclFloat, nccl_op, comm_, stream_), "ncclAllReduce");
    wait_for("queuing an NCCL all-reduce of " + std::to_string(count) + " floats", [] { return true; });
  }

  void wait_async() override { wait_async_named("NCCL gradient all-reduce"); }

  [[noreturn]] void abort(const std::string& message) override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    host_->abort(message);
    _exit(1);  // not reached: the MPI communicator's abort ends the process
  }

 private:
  // NCCL's stream waits for the compute stream's work queued so far (the gradients or weights).
  void after_compute() {
    if (!compute_stream_) return;
    check_cuda(cudaEventRecord(compute_ready_, compute_stream_), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream_, compute_ready_, 0), "cudaStreamWaitEvent");
  }

  // Work queued later on the compute stream waits for every collective so far; the host waits
  // too, under the watchdog, so that a dead peer ends the job instead of a hang in the next sync.
  void wait_async_named(const std::string& operation) {
    if (compute_stream_) {
      check_cuda(cudaEventRecord(collectives_done_, stream_), "cudaEventRecord");
      check_cuda(cudaStreamWaitEvent(compute_stream_, collectives_done_, 0), "cudaStreamWaitEvent");
    }
    wait_for(operation, [this] { return stream_done(); });
  }

  bool stream_done() {
    cudaError_t state = cudaStreamQuery(stream_);
    if (state == cudaErrorNotReady) return false;
    check_cuda(state, "NCCL stream");
    return true;
  }

  void check_nccl(ncclResult_t code, const char* what) {
    if (code == ncclSuccess || code == ncclInProgress) return;
    std::string message = std::string(what) + " failed on rank " + std::to_string(rank()) + ": " +
                          ncclGetErrorString(code);
    if (const char* last = ncclGetLastError(comm_)) message += std::string(" (") + last + ")";
    abort(message);
  }

  // Polls until `done` and the communicator reports no pending work, aborting the communicator
  // (and the job) on an asynchronous error, e.g. a peer that died, or past the time limit.
  template <typename Done>
  void wait_for(const std::string& operation, Done done) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state != ncclSuccess && state != ncclInProgress)
        abort(operation + ": NCCL reports " + ncclGetErrorString(state) + " (a peer rank may have died)");
      if (state == ncclSuccess && done()) return;
      double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > timeout_s_)
        abort(operation + " did not complete within " + std::to_string(int(timeout_s_)) +
              " s: another rank died or hangs");
      std::this_thread::yield();
    }
  }

  // MPI with several ranks, the single-process communicator with one: bootstrap, host
  // collectives, abort.
  std::unique_ptr<Communicator> host_;
  double timeout_s_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaStream_t compute_stream_ = nullptr;  // the training backend's (null: collectives only wait on the host)
  cudaEvent_t compute_ready_ = nullptr, collectives_done_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options) {
  return std::make_unique<NcclCommunicator>(options);
}

}  // namespace dasnet
#endif  // DASNET_HAVE_NCCL
