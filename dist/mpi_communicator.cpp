#ifdef DASNET_HAVE_MPI
#include "dist/mpi_communicator.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dist/ring_allreduce.h"
#include "dist/watchdog.h"

namespace dasnet {

namespace {

int g_thread_level = MPI_THREAD_SINGLE;

void finalize_mpi_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void ensure_mpi_initialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&g_thread_level);
    return;
  }
  // MULTIPLE lets the bucket thread reduce while the main thread runs backward and lets the
  // watchdog thread call MPI_Abort; with less, buckets are reduced in finish_step().
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &g_thread_level) != MPI_SUCCESS)
    throw std::runtime_error("MPI_Init_thread failed");
  std::atexit(finalize_mpi_at_exit);
}

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, size_t(length));
}

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& options)
      : watchdog_(options.timeout_s, [this](const std::string& op, double waited) { on_timeout(op, waited); }) {
    ensure_mpi_initialized();
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    find_local_rank();
    choose_allreduce(options.allreduce);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  bool thread_safe() const override { return g_thread_level == MPI_THREAD_MULTIPLE; }

  std::string describe() const override {
    std::string algorithm = ring_from_ == 0          ? "ring all-reduce"
                            : ring_from_ == SIZE_MAX ? "MPI_Allreduce"
                                                     : "MPI_Allreduce below " + std::to_string(ring_from_ * 4) +
                                                           " bytes, ring all-reduce from there";
    return "mpi (" + std::to_string(size_) + " ranks, " + algorithm + (thread_safe() ? "" : ", no thread overlap") +
           ", timeout " + std::to_string(int(watchdog_.timeout_s())) + " s)";
  }

  void barrier() override {
    Watchdog::Guard guard(watchdog_, "barrier");
    check(MPI_Barrier(comm_), "MPI_Barrier");
  }

  void broadcast(float* data, size_t count, int root) override {
    broadcast_bytes(data, count * sizeof(float), root);
  }

  void broadcast_bytes(void* data, size_t bytes, int root) override {
    Watchdog::Guard guard(watchdog_, "broadcast of " + std::to_string(bytes) + " bytes");
    auto* p = static_cast<char*>(data);
    for (size_t done = 0; done < bytes;) {
      int n = int(std::min<size_t>(bytes - done, INT_MAX));
      check(MPI_Bcast(p + done, n, MPI_BYTE, root, comm_), "MPI_Bcast");
      done += size_t(n);
    }
  }

  void all_reduce(float* data, size_t count, ReduceOp op) override {
    if (size_ == 1 || count == 0) return;
    Watchdog::Guard guard(watchdog_, "all-reduce of " + std::to_string(count) + " floats");
    if (count >= ring_from_) {
      check(ring_allreduce_sum(data, count, comm_, scratch_), "ring all-reduce");
    } else {
      for (size_t done = 0; done < count;) {
        int n = int(std::min<size_t>(count - done, INT_MAX));
        check(MPI_Allreduce(MPI_IN_PLACE, data + done, n, MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
        done += size_t(n);
      }
    }
    if (op == ReduceOp::Average) {
      const float scale = 1.0f / float(size_);
#pragma omp simd
      for (size_t i = 0; i < count; ++i) data[i] *= scale;
    }
  }

  void all_reduce_sum(double* data, size_t count) override {
    if (size_ == 1 || count == 0) return;
    Watchdog::Guard guard(watchdog_, "all-reduce of " + std::to_string(count) + " doubles");
    check(MPI_Allreduce(MPI_IN_PLACE, data, int(count), MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce");
  }

  void send_bytes(const std::string& bytes, int dest, int tag) override {
    if (bytes.size() > size_t(INT_MAX)) throw std::length_error("message of " + std::to_string(bytes.size()) + " bytes");
    check(MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, dest, tag, comm_), "MPI_Send");
  }

  // Polls (MPI_Iprobe, sleeping up to 2 ms between looks) instead of blocking in MPI_Recv, so a
  // caller can bound the wait and do other work between messages.
  bool receive_bytes(std::string* bytes, int* source, int from, int tag, double timeout_s) override {
    const auto start = std::chrono::steady_clock::now();
    const int mpi_from = from == kAnySource ? MPI_ANY_SOURCE : from;
    auto pause = std::chrono::microseconds(50);
    while (true) {
      int arrived = 0;
      MPI_Status status;
      check(MPI_Iprobe(mpi_from, tag, comm_, &arrived, &status), "MPI_Iprobe");
      if (arrived) {
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        bytes->resize(size_t(count));
        check(MPI_Recv(bytes->data(), count, MPI_BYTE, status.MPI_SOURCE, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
        if (source) *source = status.MPI_SOURCE;
        return true;
      }
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= timeout_s) return false;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
    }
  }

  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "dasnet: rank %d of %d: error: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);  // MPI_Abort does not return; if it did, the launcher still sees this rank fail
  }

  // For the tests and the benchmark: force one algorithm.
  void set_ring_from(size_t floats) { ring_from_ = floats; }

 private:
  void check(int code, const char* what) {
    if (code != MPI_SUCCESS)
      throw std::runtime_error(std::string(what) + " failed on rank " + std::to_string(rank_) + ": " +
                               mpi_error_text(code));
  }

  void on_timeout(const std::string& operation, double waited) {
    std::fprintf(stderr,
                 "dasnet: rank %d of %d: error: %s did not complete within %.0f s (waited %.0f s): another rank "
                 "died or hangs; aborting all ranks (raise --dist-timeout if steps are really this slow)\n",
                 rank_, size_, operation.c_str(), watchdog_.timeout_s(), waited);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
  }

  void find_local_rank() {
    char host[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(host, &length);
    std::vector<char> all(size_t(size_) * MPI_MAX_PROCESSOR_NAME);
    {
      Watchdog::Guard guard(watchdog_, "gather of host names");
      check(MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm_),
            "MPI_Allgather");
    }
    local_rank_ = 0;
    local_size_ = 0;
    for (int r = 0; r < size_; ++r) {
      if (std::strncmp(&all[size_t(r) * MPI_MAX_PROCESSOR_NAME], host, MPI_MAX_PROCESSOR_NAME) != 0) continue;
      if (r < rank_) ++local_rank_;
      ++local_size_;
    }
  }

  // Times both algorithms on a ladder of sizes (slowest rank's time counts) and uses the ring
  // from the smallest size at which it wins at that size and every larger one.
  void choose_allreduce(AllreduceChoice choice) {
    if (choice == AllreduceChoice::Ring || size_ == 1) {
      ring_from_ = 0;
      return;
    }
    if (choice == AllreduceChoice::Library) {
      ring_from_ = SIZE_MAX;
      return;
    }
    const std::vector<size_t> sizes{size_t(1) << 10, size_t(1) << 14, size_t(1) << 17, size_t(1) << 19,
                                    size_t(1) << 21};
    std::vector<float> buffer(sizes.back(), 1.0f);
    std::vector<double> ring_s(sizes.size()), library_s(sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
      ring_from_ = 0;
      ring_s[i] = best_time(buffer.data(), sizes[i]);
      ring_from_ = SIZE_MAX;
      library_s[i] = best_time(buffer.data(), sizes[i]);
    }
    std::vector<double> times(ring_s);
    times.insert(times.end(), library_s.begin(), library_s.end());
    {
      Watchdog::Guard guard(watchdog_, "all-reduce calibration");
      check(MPI_Allreduce(MPI_IN_PLACE, times.data(), int(times.size()), MPI_DOUBLE, MPI_MAX, comm_),
            "MPI_Allreduce");
    }
    ring_from_ = SIZE_MAX;
    for (size_t i = sizes.size(); i-- > 0;) {
      if (times[i] < times[sizes.size() + i])
        ring_from_ = sizes[i];
      else
        break;
    }
    if (ring_from_ == sizes.front()) ring_from_ = 0;
  }

  double best_time(float* data, size_t count) {
    double best = 1e30;
    for (int rep = 0; rep < 4; ++rep) {
      auto start = std::chrono::steady_clock::now();
      all_reduce(data, count, ReduceOp::Sum);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  }

  Watchdog watchdog_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  size_t ring_from_ = SIZE_MAX;  // floats: all-reduces at least this long use the ring
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace dasnet
#endif  // DASNET_HAVE_MPI
