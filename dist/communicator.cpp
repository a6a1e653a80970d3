#include "dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <stdexcept>
#include <utility>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "dist/mpi_communicator.h"
#include "dist/nccl_communicator.h"

namespace dasnet {

AllreduceChoice parse_allreduce_choice(const std::string& name) {
  if (name == "auto") return AllreduceChoice::Auto;
  if (name == "ring") return AllreduceChoice::Ring;
  if (name == "mpi") return AllreduceChoice::Library;
  throw UsageError("--allreduce: unknown algorithm '" + name + "' (valid: auto, ring, mpi)");
}

int launcher_world_size() {
  // Open MPI's mpirun, MPICH/Intel (PMI), PMIx launchers, then Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    if (const char* value = std::getenv(name)) {
      int n = std::atoi(value);
      if (n > 0) return n;
    }
  }
  return 1;
}

bool have_mpi() {
#ifdef DASNET_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool have_nccl() {
#ifdef DASNET_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

void Communicator::send_bytes(const std::string&, int, int) {
  throw std::logic_error("the " + name() + " communicator has no point-to-point messages");
}

bool Communicator::receive_bytes(std::string*, int*, int, int, double) {
  throw std::logic_error("the " + name() + " communicator has no point-to-point messages");
}

namespace {

class SingleProcessCommunicator : public Communicator {
 public:
  std::string name() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void barrier() override {}
  void broadcast(float*, size_t, int) override {}
  void all_reduce(float*, size_t, ReduceOp) override {}  // the sum and the mean of one rank are its values
  void all_reduce_sum(double*, size_t) override {}
  void broadcast_bytes(void*, size_t, int) override {}
  bool thread_safe() const override { return true; }
  // The only rank can message itself: a queue, so code written for p ranks also runs on one.
  void send_bytes(const std::string& bytes, int dest, int tag) override {
    if (dest != 0) throw std::invalid_argument("send to rank " + std::to_string(dest) + " of a single process");
    queue_.emplace_back(tag, bytes);
  }
  bool receive_bytes(std::string* bytes, int* source, int from, int tag, double) override {
    if (from != 0 && from != kAnySource) return false;  // nobody else will ever send
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->first != tag) continue;
      *bytes = std::move(it->second);
      if (source) *source = 0;
      queue_.erase(it);
      return true;
    }
    return false;
  }
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "dasnet: error: %s\n", message.c_str());
    std::fflush(stderr);
    std::exit(1);
  }

 private:
  std::deque<std::pair<int, std::string>> queue_;  // (tag, message)
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

std::unique_ptr<Communicator> make_communicator(const CommOptions& options) {
  std::string backend = options.backend;
  if (backend == "auto") backend = launcher_world_size() > 1 ? "mpi" : "single";
  if (backend == "single") return make_single_process_communicator();
  if (backend == "mpi") {
#ifdef DASNET_HAVE_MPI
    return make_mpi_communicator(options);
#else
    throw UsageError("distributed training needs MPI, and this build of dasnet has none "
                     "(install libopenmpi-dev and rebuild)");
#endif
  }
  if (backend == "nccl") {
#ifdef DASNET_HAVE_NCCL
    return make_nccl_communicator(options);
#else
    throw UsageError("--comm nccl: this build of dasnet has no NCCL (needs the CUDA toolkit and NCCL at build time)");
#endif
  }
  throw UsageError("--comm: unknown communicator '" + options.backend + "' (valid: auto, single, mpi, nccl)");
}

}  // namespace dasnet
