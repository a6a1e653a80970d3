// The emulated CUDA runtime behind tests/cuda_emulation/shim/cuda_runtime.h.
//
// A launch runs its blocks one after another on the calling thread. The threads of a block are
// fibers (ucontext) with their own stacks, scheduled cooperatively: a thread runs until it
// reaches __syncthreads, a warp collective (__shfl_*_sync, __syncwarp) or the end of the kernel.
// A barrier is released when every thread of the block (every lane of the warp) has reached it;
// the waiters must all be at the same source line, or the emulator records a violation.
//
// Between barriers threads run one at a time, so the order matters for what a missing
// __syncthreads does. Blocks alternate (and so do launches, for one-block grids) between two
// orders, which between them turn the usual missing barriers into wrong results:
//  - depth-first, highest thread first: the ready threads form a stack, so a warp released from
//    a shuffle goes on at once, runs ahead of the others to the next barrier, and thread 0 runs
//    last. Caught: thread 0 publishes a value the others read (they read it before it is
//    written); a warp runs ahead into the next reduction and overwrites shared memory the
//    previous one has not read yet (the trailing barrier of block_reduce).
//  - breadth-first, lowest thread first: a FIFO queue, warp 0 ahead of the others. Caught: lane 0
//    of each warp publishes a partial result that warp 0 combines (warp 0 reads the others'
//    partials before they are written: the middle barrier of block_reduce).
// Fibers instead of one OS thread per GPU thread: a 256-thread block then costs microseconds,
// not the thousands of context switches through the kernel that made the first prototype of
// this emulator take minutes for the test shapes.
#include <cuda_runtime.h>

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

namespace emu {

Indices indices;

namespace {

constexpr size_t kStackBytes = 256 * 1024;
// One launch may not ask for more emulated threads than this (a runaway grid would just hang).
constexpr unsigned long long kMaxThreadsPerLaunch = 1ull << 26;

enum class State : uint8_t { Ready, AtSyncthreads, AtWarp, Done };

// Kinds of violation, each reported at most once per launch.
enum Violation : unsigned {
  kBadLaunch = 1u << 0,
  kExitedBeforeBarrier = 1u << 1,
  kDivergentBarrier = 1u << 2,
  kPartialWarp = 1u << 3,
  kExitedLanes = 1u << 4,
  kDivergentWarp = 1u << 5,
  kPartialMask = 1u << 6,
  kBadWidth = 1u << 7,
  kDeadlock = 1u << 8,
  kOutsideKernel = 1u << 9,
};

struct Fiber {
  ucontext_t context;
  char* mapping = nullptr;
  size_t mapping_bytes = 0;
  bool started = false;  // has a context; when suspended at its end, resuming it runs the kernel again
  Fiber() = default;
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  ~Fiber() {
    if (mapping) munmap(mapping, mapping_bytes);
  }
};

struct Site {
  const char* file = "";
  int line = 0;
  int op = -1;  // -1: __syncthreads, else the WarpOp
};

// The launch and block being run.
struct Run {
  Invoke invoke = nullptr;
  const void* bound = nullptr;
  const char* kernel = "";
  unsigned threads = 0, warps = 0;
  std::vector<State> state;
  std::vector<dim3> thread_index;
  std::vector<Site> site;
  std::vector<uint64_t> in, out;
  std::vector<unsigned> source;  // the thread whose value a warp collective returns
  std::vector<unsigned> warp_live, warp_waiting;
  unsigned live = 0, block_waiting = 0;
  std::vector<int> ready;  // pushed in ascending thread order
  size_t ready_head = 0;   // breadth-first: the next to run; depth-first pops the back
  bool depth_first = false;
  int current = -1;  // the running fiber; -1: the launching (host) context
  bool deadlocked = false;
  unsigned reported = 0;
};

Run run;
std::vector<std::unique_ptr<Fiber>> fibers;
ucontext_t host_context;
std::mutex launch_mutex, violations_mutex;
std::vector<std::string> violations;
long launches = 0;
cudaError_t last_error = cudaSuccess;
thread_local bool in_launch = false;  // this OS thread is running a launch's fibers

std::string format(const char* fmt, va_list args) {
  char buffer[512];
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  return buffer;
}

void add_violation(std::string message) {
  std::fprintf(stderr, "[cuda emulation] %s\n", message.c_str());
  std::lock_guard<std::mutex> lock(violations_mutex);
  violations.push_back(std::move(message));
}

__attribute__((format(printf, 2, 3))) void report(unsigned kind, const char* fmt, ...) {
  if (run.reported & kind) return;
  run.reported |= kind;
  va_list args;
  va_start(args, fmt);
  std::string what = format(fmt, args);
  va_end(args);
  char where[160];
  std::snprintf(where, sizeof where, "kernel %s, block (%u,%u,%u): ", run.kernel, indices.block.x, indices.block.y,
                indices.block.z);
  add_violation(where + what);
}

Fiber& fiber(int t) { return *fibers[size_t(t)]; }

void fiber_main();

void prepare_fiber(int t) {
  Fiber& f = fiber(t);
  if (!f.mapping) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    f.mapping_bytes = kStackBytes + page;
    void* p = mmap(nullptr, f.mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
      std::perror("cuda emulation: mmap of a fiber stack");
      std::abort();
    }
    f.mapping = static_cast<char*>(p);
    mprotect(f.mapping, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
  }
  if (!f.started) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.mapping + page;
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = nullptr;  // fiber_main never returns
    makecontext(&f.context, fiber_main, 0);
    f.started = true;
  }
}

// Switches from the running context (a fiber, or the host) to fiber `next`.
void resume(int next) {
  const int previous = run.current;
  run.current = next;
  indices.thread = run.thread_index[size_t(next)];
  if (previous == next) return;
  swapcontext(previous < 0 ? &host_context : &fiber(previous).context, &fiber(next).context);
}

void return_to_host() {
  const int previous = run.current;
  run.current = -1;
  swapcontext(&fiber(previous).context, &host_context);
}

// The running fiber waits or has finished: run the next ready one, else go back to the host.
void schedule() {
  if (run.ready_head < run.ready.size()) {
    int next;
    if (run.depth_first) {
      next = run.ready.back();
      run.ready.pop_back();
    } else {
      next = run.ready[run.ready_head++];
    }
    if (run.ready_head == run.ready.size()) {
      run.ready.clear();
      run.ready_head = 0;
    }
    resume(next);
    return;
  }
  if (run.live == 0) {
    return_to_host();  // comes back here when this fiber runs the kernel for another block
    return;
  }
  report(kDeadlock,
         "deadlock: %u of %u threads still running, %u at __syncthreads, none can go on (barriers in "
         "divergent code)",
         run.live, run.threads, run.block_waiting);
  run.deadlocked = true;
  return_to_host();  // never resumed: the launch is abandoned and this fiber gets a fresh context
}

// Starts a block: the host switches to the first thread to run.
void schedule_from_host() {
  int first;
  if (run.depth_first) {
    first = run.ready.back();
    run.ready.pop_back();
  } else {
    first = run.ready[run.ready_head++];
  }
  resume(first);
}

bool same_site(const Site& a, const Site& b) {
  return a.line == b.line && a.op == b.op && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

void release_block() {
  const Site* first = nullptr;
  for (unsigned t = 0; t < run.threads; ++t) {
    if (run.state[t] != State::AtSyncthreads) continue;
    if (!first) {
      first = &run.site[t];
    } else if (!same_site(*first, run.site[t])) {
      report(kDivergentBarrier, "threads wait at different __syncthreads: %s:%d and %s:%d (thread %u)", first->file,
             first->line, run.site[t].file, run.site[t].line, t);
      break;
    }
  }
  if (run.live < run.threads)
    report(kExitedBeforeBarrier, "__syncthreads (%s:%d) reached after %u of %u threads had exited", first->file,
           first->line, run.threads - run.live, run.threads);
  for (unsigned t = 0; t < run.threads; ++t)
    if (run.state[t] == State::AtSyncthreads) {
      run.state[t] = State::Ready;
      run.ready.push_back(int(t));
    }
  run.block_waiting = 0;
}

void release_warp(unsigned w) {
  const unsigned first_thread = w * 32, lanes = std::min(32u, run.threads - first_thread);
  const Site* first = nullptr;
  for (unsigned t = first_thread; t < first_thread + lanes; ++t) {
    if (run.state[t] != State::AtWarp) continue;
    if (!first) {
      first = &run.site[t];
    } else if (!same_site(*first, run.site[t])) {
      report(kDivergentWarp, "lanes of warp %u are at different warp collectives: %s:%d and %s:%d", w, first->file,
             first->line, run.site[t].file, run.site[t].line);
      break;
    }
  }
  if (lanes < 32)
    report(kPartialWarp, "full-mask warp collective (%s:%d) in warp %u, which has only %u threads (blockDim %u)",
           first->file, first->line, w, lanes, run.threads);
  else if (run.warp_live[w] < lanes)
    report(kExitedLanes, "full-mask warp collective (%s:%d) in warp %u after %u of its lanes exited", first->file,
           first->line, w, lanes - run.warp_live[w]);
  for (unsigned t = first_thread; t < first_thread + lanes; ++t) {
    if (run.state[t] != State::AtWarp) continue;
    const unsigned s = run.source[t];
    run.out[t] = run.state[s] == State::AtWarp ? run.in[s] : run.in[t];  // an absent lane: undefined on a GPU
  }
  for (unsigned t = first_thread; t < first_thread + lanes; ++t)
    if (run.state[t] == State::AtWarp) {
      run.state[t] = State::Ready;
      run.ready.push_back(int(t));
    }
  run.warp_waiting[w] = 0;
}

void thread_exit() {
  const unsigned me = unsigned(run.current), w = me / 32;
  run.state[me] = State::Done;
  --run.live;
  --run.warp_live[w];
  if (run.warp_waiting[w] && run.warp_waiting[w] == run.warp_live[w]) release_warp(w);
  if (run.block_waiting && run.block_waiting == run.live) release_block();
  schedule();
}

void fiber_main() {
  for (;;) {
    run.invoke(run.bound);
    thread_exit();
  }
}

bool valid_launch(const Config& c, const char* name) {
  char problem[160] = "";
  const unsigned long long block_threads = 1ull * c.block.x * c.block.y * c.block.z;
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.x > 0x7fffffffu || c.grid.y > 65535 ||
      c.grid.z > 65535)
    std::snprintf(problem, sizeof problem, "grid (%u,%u,%u) outside [1, 2^31-1] x [1, 65535] x [1, 65535]", c.grid.x,
                  c.grid.y, c.grid.z);
  else if (c.block.x == 0 || c.block.y == 0 || c.block.z == 0 || c.block.x > 1024 || c.block.y > 1024 ||
           c.block.z > 64 || block_threads > 1024)
    std::snprintf(problem, sizeof problem, "block (%u,%u,%u): at most 1024 threads, 1024 x 1024 x 64", c.block.x,
                  c.block.y, c.block.z);
  else if (c.shared_bytes > 48 * 1024)
    std::snprintf(problem, sizeof problem, "%zu bytes of dynamic shared memory (more than 48 KiB)", c.shared_bytes);
  if (!problem[0]) return true;
  last_error = cudaErrorInvalidConfiguration;
  add_violation(std::string("kernel ") + name + ": invalid launch: " + problem);
  return false;
}

}  // namespace

void launch(const Config& config, Invoke invoke, const void* bound, const char* kernel_name) {
  if (in_launch) {
    add_violation(std::string("kernel ") + kernel_name + " launched from device code (not emulated)");
    last_error = cudaErrorLaunchFailure;
    return;
  }
  std::lock_guard<std::mutex> lock(launch_mutex);
  ++launches;
  if (!valid_launch(config, kernel_name)) return;
  const unsigned threads = config.block.x * config.block.y * config.block.z;
  const unsigned long long blocks = 1ull * config.grid.x * config.grid.y * config.grid.z;
  if (blocks * threads > kMaxThreadsPerLaunch) {
    last_error = cudaErrorLaunchFailure;
    add_violation(std::string("kernel ") + kernel_name + ": " + std::to_string(blocks * threads) +
                  " threads: too many to emulate");
    return;
  }

  run.invoke = invoke;
  run.bound = bound;
  run.kernel = kernel_name;
  run.threads = threads;
  run.warps = (threads + 31) / 32;
  run.reported = 0;
  run.deadlocked = false;
  run.state.assign(threads, State::Ready);
  run.site.assign(threads, Site{});
  run.in.assign(threads, 0);
  run.out.assign(threads, 0);
  run.source.assign(threads, 0);
  run.thread_index.resize(threads);
  for (unsigned t = 0; t < threads; ++t)
    run.thread_index[t] = dim3(t % config.block.x, (t / config.block.x) % config.block.y,
                               t / (config.block.x * config.block.y));
  while (fibers.size() < threads) fibers.push_back(std::make_unique<Fiber>());
  indices.block_dim = config.block;
  indices.grid_dim = config.grid;

  // Blocks in descending order: no block may rely on another having run first.
  const long launch_number = launches;
  in_launch = true;
  for (unsigned long long b = blocks; b-- > 0;) {
    indices.block = dim3(unsigned(b % config.grid.x), unsigned((b / config.grid.x) % config.grid.y),
                         unsigned(b / (1ull * config.grid.x * config.grid.y)));
    std::fill(run.state.begin(), run.state.end(), State::Ready);
    run.live = threads;
    run.block_waiting = 0;
    run.warp_live.assign(run.warps, 32);
    if (threads % 32) run.warp_live.back() = threads % 32;
    run.warp_waiting.assign(run.warps, 0);
    run.ready.clear();
    run.ready_head = 0;
    run.depth_first = ((b + static_cast<unsigned long long>(launch_number)) & 1) == 0;
    for (unsigned t = 0; t < threads; ++t) {
      prepare_fiber(int(t));
      run.ready.push_back(int(t));
    }
    run.current = -1;
    schedule_from_host();  // back here when every thread of the block has finished (or deadlocked)
    if (run.deadlocked) {
      for (unsigned t = 0; t < threads; ++t)
        if (run.state[t] != State::Done) fiber(int(t)).started = false;  // suspended mid-kernel: start afresh
      last_error = cudaErrorLaunchFailure;
      break;
    }
  }
  in_launch = false;
  run.current = -1;
  indices.thread = indices.block = dim3();
}

void syncthreads(const char* file, int line) {
  if (!in_launch || run.current < 0) {
    add_violation(std::string("__syncthreads outside a kernel at ") + file + ":" + std::to_string(line));
    return;
  }
  const unsigned me = unsigned(run.current);
  run.state[me] = State::AtSyncthreads;
  run.site[me] = Site{file, line, -1};
  if (++run.block_waiting == run.live) release_block();
  schedule();
}

uint64_t warp_exchange(unsigned mask, uint64_t bits, WarpOp op, int operand, int width, const char* file, int line) {
  if (!in_launch || run.current < 0) {
    add_violation(std::string("warp collective outside a kernel at ") + file + ":" + std::to_string(line));
    return bits;
  }
  const unsigned me = unsigned(run.current), w = me / 32, lane = me % 32;
  if (mask != 0xffffffffu)
    report(kPartialMask, "warp collective at %s:%d with mask %#x: only full masks are emulated", file, line, mask);
  if (width <= 0 || width > 32 || (width & (width - 1))) {
    report(kBadWidth, "warp collective at %s:%d with width %d (must be a power of 2 up to 32)", file, line, width);
    width = 32;
  }
  const unsigned segment = lane & ~unsigned(width - 1), position = lane - segment;
  unsigned source = lane;
  switch (op) {
    case WarpOp::Sync:
      break;
    case WarpOp::Down:
      if (operand >= 0 && position + unsigned(operand) < unsigned(width)) source = lane + unsigned(operand);
      break;
    case WarpOp::Up:
      if (operand >= 0 && position >= unsigned(operand)) source = lane - unsigned(operand);
      break;
    case WarpOp::Xor: {
      const unsigned s = lane ^ unsigned(operand);
      if (s < 32 && (s & ~unsigned(width - 1)) <= segment) source = s;  // later groups: own value
      break;
    }
    case WarpOp::Index:
      source = segment + unsigned(((operand % width) + width) % width);
      break;
  }
  run.in[me] = bits;
  run.source[me] = w * 32 + source;
  if (run.source[me] >= run.threads) run.source[me] = me;  // a lane past the end of a partial warp
  run.site[me] = Site{file, line, int(op)};
  run.state[me] = State::AtWarp;
  if (++run.warp_waiting[w] == run.warp_live[w]) release_warp(w);
  schedule();
  return run.out[me];
}

std::vector<std::string> take_violations() {
  std::lock_guard<std::mutex> lock(violations_mutex);
  std::vector<std::string> out;
  out.swap(violations);
  return out;
}

long launch_count() {
  std::lock_guard<std::mutex> lock(launch_mutex);
  return launches;
}

}  // namespace emu

// --- Runtime API ------------------------------------------------------------------------------

cudaError_t cudaGetLastError() {
  const cudaError_t error = emu::last_error;
  emu::last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() { return emu::last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  if (!pointer) return cudaErrorInvalidValue;
  *pointer = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes) *free_bytes = size_t(1) << 34;
  if (total_bytes) *total_bytes = size_t(1) << 34;
  return cudaSuccess;
}

cudaError_t cudaMemset(void* pointer, int value, size_t bytes) {
  if (!pointer && bytes) return cudaErrorInvalidValue;
  if (bytes) std::memset(pointer, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(pointer, value, bytes);
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if ((!dst || !src) && bytes) return cudaErrorInvalidValue;
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
