// Training or inference throughput and peak memory of one dasnet configuration, on random
// 1 x H x W images (one warm-up step, then timed steps). One configuration per process so the
// peak resident memory belongs to it alone. Prints one JSON line.
// Usage: bench_train [--depth 14] [--batch 128] [--size 200] [--steps 3] [--mode train|infer]
//                    [--backend cpu] [--no-fuse] [--no-recompute]
//                    [--precision fp32|tf32|bf16|fp16] [--layout nchw|nhwc] [--graphs on|off]
//                    [--deterministic]   (CUDA backend; the layout defaults to nhwc for tensor-core precisions;
//                    --backend cpu takes fp32 or bf16: bf16 convolutions on an AVX512_BF16 CPU)
// --profile (CPU backends) prints to stderr, per layer, its time, GFLOP/s and the fraction of this
// machine's FMA peak, and its activation traffic against the memory bandwidth, both measured here
// (kernels/cpu_limits.h), then the step's totals (FLOPs, bytes, passes over activations).
// With --backend cuda the timed steps end with a device synchronization (the loss totals come
// back every step), so the time covers all GPU work.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <omp.h>

#include "core/usage_error.h"
#include "kernels/backend_factory.h"
#include "kernels/cpu_isa.h"
#include "kernels/cpu_limits.h"
#include "models/resnet.h"
#include "train/cuda_graph_step.h"
#include "train/trainer.h"

using namespace dasnet;

namespace {

// The per-layer table and the step's totals, against the peak and bandwidth measured now.
void print_profile(Network& net, int batch, bool train, int steps) {
  const CpuIsa isa = cpu_isa();
  const double peak = measure_fma_gflops(isa), bandwidth = measure_triad_gb_per_s();
  std::fprintf(stderr, "machine_limits isa=%s threads=%d fma_peak_gflops=%.1f", cpu_isa_name(isa),
               omp_get_max_threads(), peak);
  for (CpuIsa other : {CpuIsa::Avx2, CpuIsa::Avx512})
    if (other != isa && cpu_isa_supported(other))
      std::fprintf(stderr, " fma_peak_gflops_%s=%.1f", cpu_isa_name(other), measure_fma_gflops(other));
  std::fprintf(stderr, " triad_gb_per_s=%.1f (measured now; other jobs on these cores make them noisy)\n", bandwidth);
  std::fprintf(stderr, "per layer, mean of %d timed steps (FLOPs 2 per multiply-add; bytes: activation tensors read + written)\n", steps);
  std::fprintf(stderr, "%-26s %-20s %9s %9s %8s %7s %6s %8s %7s %6s %6s\n", "layer", "kind", "fwd_ms", "bwd_ms", "GFLOP",
               "GFLOP/s", "%peak", "MB", "GB/s", "%bw", "passes");
  LayerCost step;
  double seconds = 0;
  std::map<std::string, std::pair<double, double>> by_kind;  // seconds, FLOPs
  for (const auto& p : net.layer_profile(batch, train)) {
    LayerCost cost = p.forward;
    if (train) cost += p.backward;
    const double t = p.forward_s + p.backward_s, gflops = cost.flops / std::max(t, 1e-12) / 1e9;
    const double gb_s = cost.bytes / std::max(t, 1e-12) / 1e9;
    std::fprintf(stderr, "%-26s %-20s %9.2f %9.2f %8.2f %7.1f %5.1f%% %8.0f %7.1f %5.1f%% %6d\n", p.name.c_str(),
                 p.kind.c_str(), p.forward_s * 1e3, p.backward_s * 1e3, cost.flops / 1e9, gflops, 100 * gflops / peak,
                 cost.bytes / 1048576.0, gb_s, 100 * gb_s / bandwidth, cost.passes);
    step += cost;
    seconds += t;
    by_kind[p.kind].first += t;
    by_kind[p.kind].second += cost.flops;
  }
  for (const auto& [kind, v] : by_kind)
    std::fprintf(stderr, "kind %-20s %8.1f ms  %5.1f%% of layer time  %7.1f GFLOP/s\n", kind.c_str(), v.first * 1e3,
                 100 * v.first / std::max(seconds, 1e-12), v.second / std::max(v.first, 1e-12) / 1e9);
  std::fprintf(stderr,
               "step_totals layer_seconds=%.3f gflop=%.1f gflop_per_s=%.1f peak_fraction=%.3f activation_gb=%.2f "
               "gb_per_s=%.1f passes=%d\n",
               seconds, step.flops / 1e9, step.flops / seconds / 1e9, step.flops / seconds / 1e9 / peak,
               step.bytes / 1e9, step.bytes / seconds / 1e9, step.passes);
}

int run(int argc, char** argv) {
  int depth = 14, batch = 128, size = 200, steps = 3;
  std::string mode = "train", backend_name = "cpu";
  bool fuse = true, recompute = true, profile = false, graphs = true;
  std::string precision = "fp32";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--depth") depth = std::stoi(next());
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--size") size = std::stoi(next());
    else if (a == "--steps") steps = std::stoi(next());
    else if (a == "--mode") mode = next();
    else if (a == "--backend") backend_name = next();
    else if (a == "--no-fuse") fuse = false;
    else if (a == "--no-recompute") recompute = false;
    else if (a == "--profile") profile = true;
    else if (a == "--precision") precision = next();
    else if (a == "--graphs") graphs = next() != "off";
    else if (a == "--deterministic") setenv("DASNET_CUDA_DETERMINISTIC", "1", 1);
    else if (a == "--layout") setenv("DASNET_CUDA_LAYOUT", next().c_str(), 1);  // read by make_backend
    else {
      std::fprintf(stderr, "bench_train: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  ModelConfig config;
  config.depth = depth;
  config.height = config.image_width = size;
  config.fuse = fuse;
  const BackendKind kind = parse_backend_kind(backend_name);
  if (kind == BackendKind::Cuda) setenv("DASNET_CUDA_PRECISION", precision.c_str(), 1);  // read by make_backend
  if (profile) graphs = false;  // per-layer host timing needs plain launches
  // The CPU backends take the precision directly (cpu: fp32 or bf16 convolutions).
  auto backend = kind == BackendKind::Cuda ? make_backend(kind) : make_backend(kind, precision);
  auto net = build_resnet(config, *backend, 1);
  net->set_recompute(recompute);
  OptimizerConfig opt;
  Sgd sgd(*backend, net->params(), opt);
  CudaGraphTrainingStep train_step(*net, sgd, config.mode, graphs);

  std::vector<float> images(size_t(batch) * size * size);
  Rng rng(5);
  for (auto& v : images) v = rng.uniform();
  std::vector<int> labels(batch);
  for (int i = 0; i < batch; ++i) labels[i] = i % 2;

  const bool train = mode == "train";
  auto step = [&] {
    if (train) {
      train_step.run(images.data(), labels.data(), batch, 0.001f);
    } else {
      const Tensor& logits = net->forward(images.data(), batch, false);
      std::vector<float> host(logits.numel());
      backend->copy_to_host(host.data(), logits.data, host.size());
    }
  };
  step();  // warm-up: plans memory, creates oneDNN primitives / searches cuDNN algorithms
  if (train && kind == BackendKind::Cuda) step();  // second warm-up: captures the CUDA graph
  net->set_profiling(profile);
  auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) step();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"engine\": \"dasnet\", \"mode\": \"%s\", \"depth\": %d, \"batch\": %d, \"size\": %d, \"threads\": %d, "
      "\"fuse\": %s, \"recompute\": %s, \"backend\": \"%s\", \"isa\": \"%s\", \"precision\": \"%s\", \"layout\": \"%s\", "
      "\"graphs\": %s, \"samples_per_s\": %.2f, \"step_seconds\": %.4f, \"planned_mb\": %.0f, \"peak_mb\": %.0f}\n",
      mode.c_str(), depth, batch, size, omp_get_max_threads(), fuse ? "true" : "false", recompute ? "true" : "false",
      backend_name.c_str(), cpu_isa_name(cpu_isa()), precision.c_str(), layout_name(backend->activation_layout(16)),
      (graphs && kind == BackendKind::Cuda && train) ? "true" : "false",
      batch * steps / seconds, seconds / steps, net->planned_bytes(batch, train) / 1048576.0, peak_memory_mb());
  if (profile) print_profile(*net, batch, train, steps);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {  // a bad flag or DASNET_CPU_ISA
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // no device, out of memory, a failing kernel
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
}
