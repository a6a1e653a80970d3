// Training or inference throughput and peak memory of one dasnet configuration, on random
// 1 x H x W images (one warm-up step, then timed steps). One configuration per process so the
// peak resident memory belongs to it alone. Prints one JSON line.
// Usage: bench_train [--depth 14] [--batch 128] [--size 200] [--steps 3] [--mode train|infer]
//                    [--backend cpu] [--no-fuse] [--no-recompute]
//                    [--precision fp32|tf32|bf16|fp16] [--layout nchw|nhwc] [--graphs on|off]
//                    [--deterministic]   (CUDA backend; the layout defaults to nhwc for tensor-core precisions)
// With --backend cuda the timed steps end with a device synchronization (the loss totals come
// back every step), so the time covers all GPU work.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include "engine/cuda_graph_step.h"
#include "engine/resnet.h"
#include "engine/trainer.h"
#include "kernels/cpu_isa.h"

using namespace dasnet;

namespace {
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
  else if (precision != "fp32") throw UsageError("--precision " + precision + " needs --backend cuda");
  if (profile) graphs = false;  // per-layer host timing needs plain launches
  auto backend = make_backend(kind);
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
  if (profile) std::fprintf(stderr, "per layer kind, %d timed steps:\n%s", steps, net->profile_report().c_str());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {  // a bad flag or DASNET_CPU_ISA
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 2;
  }
}
