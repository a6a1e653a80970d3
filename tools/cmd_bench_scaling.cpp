// dasnet bench scaling: the study's throughput map. Run under mpirun/srun (or alone): measures
// training throughput (samples/s summed over ranks) and the per-step split into compute,
// all-reduce wait and input wait over depth x batch x data set size; times all-reduces to fit the
// ring cost model; predicts throughput and efficiency for 2..512 devices from the measured step
// times (this machine) and from stated V100 assumptions (the study's GPUs). Writes CSV and markdown.
#include <omp.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/usage_error.h"
#include "dist/cost_model.h"
#include "io/loader.h"
#include "io/synthetic_images.h"
#include "models/resnet.h"
#include "tools/commands.h"
#include "tools/dist_flags.h"
#include "tools/flag_checks.h"
#include "tools/run_options.h"

namespace dasnet {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Measured {
  int ranks, depth, batch;
  long dataset;
  double samples_per_s;  // summed over ranks
  double step_s, compute_s, allreduce_wait_s, input_wait_s, optimizer_s;  // per step, mean over ranks
  double forward_s, backward_s;
  size_t gradient_bytes;
};

// A model prediction: for this machine's link (from the measured step times) or for V100 nodes
// (from the stated assumptions).
struct Prediction {
  std::string source;  // "this machine (fitted link)" or "V100 (assumed)"
  int depth, batch;
  long dataset;  // 0: not part of the model (V100 rows)
  int ranks;
  double samples_per_s, efficiency;
};

struct BenchScaling {
  DistributedFlags dist;
  BackendOptions backend;
  std::vector<int> depths{8, 14};
  std::vector<int> batches{16, 64};
  std::vector<long> dataset_sizes{512};
  int image_size = 32;
  int steps = 8;
  bool model_only = false;
  std::string csv_path, markdown_path, predictions_csv_path;
  std::vector<Prediction> predictions;
  // V100 assumptions (stated in the output; none of them measured here).
  double v100_depth14_step_s = 0.16;
  double nvlink_gbps = 100, nvlink_latency_us = 8;  // NCCL bus bandwidth inside a node (GB/s)
  double ib_gbps = 10, ib_latency_us = 20;          // per-ring InfiniBand EDR bandwidth between nodes
  int gpus_per_node = 4;

  Measured measure(Communicator& comm, int depth, int batch, long dataset) {
    ModelConfig model;
    model.depth = depth;
    model.height = model.image_width = image_size;
    model.validate();
    auto backend_impl = backend.create();
    comm.set_compute_stream(backend_impl->native_stream());
    auto net = build_resnet(model, *backend_impl, 1);
    SyntheticImages data(size_t(dataset), Shape{1, 1, image_size, image_size}, 7);
    LoaderOptions lo;
    lo.batch_size = batch;
    lo.rank = comm.rank();
    lo.world = comm.size();
    lo.drop_last = true;
    Loader loader(data, lo);
    ParameterSet& ps = net->params();
    DataParallelSync sync(comm, ps.grads(), ps.parameter_count(), dist.sync_options());
    net->set_gradient_ready([&](size_t o, size_t c) { sync.gradient_ready(o, c); });
    Backend& b = *backend_impl;
    Buffer velocity = b.allocate(ps.parameter_count());
    double input = 0, forward = 0, backward = 0, wait = 0, optimizer = 0;
    int timed = 0, epoch = 0;
    Batch batch_data;
    comm.barrier();
    auto start = Clock::now();
    for (int step = 0; step < steps + 1; ++step) {
      auto t0 = Clock::now();
      if (!loader.next(batch_data)) {
        loader.start_epoch(epoch++);
        if (!loader.next(batch_data)) throw UsageError("data set smaller than one batch per rank");
      }
      auto t1 = Clock::now();
      sync.begin_step();
      const Tensor& logits = net->forward(batch_data.images.data(), batch_data.count(), true);
      LossTotals t = b.loss(model.mode, logits, batch_data.labels.data(), &net->logits_gradient(), nullptr);
      auto t2 = Clock::now();
      net->backward();
      auto t3 = Clock::now();
      sync.finish_step(t.loss_sum);
      auto t4 = Clock::now();
      // As Sgd::step: fp16 loss scaling unscales and checks the gradients around the update.
      b.unscale_gradients(ps.grads(), ps.parameter_count());
      b.sgd_update(ps.params(), ps.grads(), velocity.data(), ps.parameter_count(), 1e-4f, 0.9f, 0, false);
      b.finish_optimizer_step();
      auto t5 = Clock::now();
      if (step == 0) {  // warm-up: plans memory, first touches
        comm.barrier();
        start = Clock::now();
        continue;
      }
      auto d = [](auto a, auto z) { return std::chrono::duration<double>(z - a).count(); };
      input += d(t0, t1), forward += d(t1, t2), backward += d(t2, t3), wait += d(t3, t4), optimizer += d(t4, t5);
      ++timed;
    }
    const double elapsed = seconds_since(start);
    net->set_gradient_ready(nullptr);
    double sums[7] = {timed * double(batch) / elapsed, elapsed / timed, input / timed, forward / timed,
                      backward / timed, wait / timed, optimizer / timed};
    comm.all_reduce_sum(sums, 7);
    const double p = comm.size();
    Measured m{comm.size(), depth, batch, dataset, sums[0], sums[1] / p, (sums[3] + sums[4]) / p, sums[5] / p,
               sums[2] / p, sums[6] / p, sums[3] / p, sums[4] / p, ps.parameter_count() * sizeof(float)};
    return m;
  }

  std::vector<AllreduceSample> time_allreduce(Communicator& comm) {
    std::vector<AllreduceSample> samples;
    if (comm.size() == 1) return samples;
    // In the training backend's memory: device memory for NCCL.
    auto backend_impl = backend.create();
    comm.set_compute_stream(backend_impl->native_stream());
    const size_t capacity = size_t(1) << 22;
    Buffer buffer = backend_impl->allocate(capacity);
    backend_impl->fill(buffer.data(), capacity, 1.0f);
    for (size_t floats = 256; floats <= capacity; floats *= 4) {
      double best = 1e30;
      for (int rep = 0; rep < 5; ++rep) {
        comm.barrier();
        auto t = Clock::now();
        comm.all_reduce(buffer.data(), floats, ReduceOp::Sum);
        double s = seconds_since(t);
        double worst = s;  // summed over the ranks: their mean time
        comm.all_reduce_sum(&worst, 1);
        best = std::min(best, worst / comm.size());
      }
      samples.push_back({comm.size(), double(floats * sizeof(float)), best});
    }
    return samples;
  }

  void run() {
    auto comm = dist.connect(backend.backend);
    const bool leader = comm->rank() == 0;
    std::ostringstream md;
    std::vector<Measured> rows;
    md << "# dasnet bench scaling\n\n";
    if (!model_only) {
      for (int depth : depths)
        for (int batch : batches)
          for (long size : dataset_sizes) {
            rows.push_back(measure(*comm, depth, batch, size));
            const Measured& m = rows.back();
            if (leader) {
              std::printf("ranks %d depth %d batch %d data %ld: %.1f samples/s; step %.4f s = compute %.4f + "
                          "all-reduce wait %.4f + input %.4f + optimizer %.4f\n",
                          m.ranks, m.depth, m.batch, m.dataset, m.samples_per_s, m.step_s, m.compute_s,
                          m.allreduce_wait_s, m.input_wait_s, m.optimizer_s);
              std::fflush(stdout);
            }
          }
      md << "## Measured on this machine (" << comm->describe() << ", " << backend.backend << " backend, "
         << omp_get_max_threads() << " threads per rank, " << image_size << "x" << image_size
         << " images, mean of " << steps << " steps after one warm-up step)\n\n"
         << "| ranks | depth | batch/rank | data set | samples/s (sum over ranks) | step s | compute s | all-reduce "
            "wait s | input wait s | optimizer s | gradient MB |\n"
         << "|---|---|---|---|---|---|---|---|---|---|---|\n";
      char line[512];
      for (const auto& m : rows) {
        std::snprintf(line, sizeof line, "| %d | %d | %d | %ld | %.1f | %.4f | %.4f | %.4f | %.4f | %.4f | %.3f |\n",
                      m.ranks, m.depth, m.batch, m.dataset, m.samples_per_s, m.step_s, m.compute_s,
                      m.allreduce_wait_s, m.input_wait_s, m.optimizer_s, m.gradient_bytes / 1e6);
        md << line;
      }
    }
    auto samples = time_allreduce(*comm);
    const double bucket_bytes = double(dist.sync_options().bucket_bytes);
    char line[512];
    if (!samples.empty()) {
      LinkModel here = fit_link_model(samples);
      md << "\n## All-reduce on this machine (" << comm->size() << " ranks) and the fitted ring model\n\n"
         << "Fit: latency " << here.latency_s * 1e6 << " us per ring step, bandwidth "
         << here.bandwidth_bytes_per_s / 1e9 << " GB/s.\n\n| bytes | measured s | model s |\n|---|---|---|\n";
      for (const auto& s : samples) {
        std::snprintf(line, sizeof line, "| %.0f | %.6f | %.6f |\n", s.bytes, s.seconds,
                      ring_allreduce_seconds(s.bytes, s.ranks, here));
        md << line;
      }
      if (!rows.empty()) {
        ClusterModel cpu{"this machine's link, fitted", 1 << 30, here, here};
        md << "\n### Predicted for more ranks over this link (model predictions: the measured per-rank step "
              "times above plus the fitted ring all-reduce, overlapped with backward)\n\n"
           << "| depth | batch/rank | data set | ranks | predicted samples/s | predicted efficiency |\n"
           << "|---|---|---|---|---|---|\n";
        for (const auto& m : rows) {
          StepProfile sp{m.forward_s, m.backward_s, m.optimizer_s, double(m.gradient_bytes), m.batch};
          for (int p : {2, 4, 8, 16, 32}) {
            auto r = predict_data_parallel(sp, cpu, p, bucket_bytes, !dist.no_overlap);
            std::snprintf(line, sizeof line, "| %d | %d | %ld | %d | %.1f | %.3f |\n", m.depth, m.batch, m.dataset,
                          p, r.samples_per_s, r.efficiency);
            md << line;
            predictions.push_back({"this machine (fitted link)", m.depth, m.batch, m.dataset, p, r.samples_per_s,
                                   r.efficiency});
          }
        }
      }
    }
    md << v100_predictions(bucket_bytes);
    if (leader) write_files(md.str(), rows);
  }

  void write_files(const std::string& markdown, const std::vector<Measured>& rows) const {
    std::fputs(markdown.c_str(), stdout);
    if (!markdown_path.empty()) {
      std::ofstream out(markdown_path);
      if (!out) throw UsageError("--markdown " + markdown_path + ": cannot write");
      out << markdown;
    }
    if (!csv_path.empty()) {
      std::ofstream out(csv_path);
      if (!out) throw UsageError("--csv " + csv_path + ": cannot write");
      out << "ranks,depth,batch_per_rank,dataset,samples_per_s,step_s,compute_s,allreduce_wait_s,input_wait_s,"
             "optimizer_s,gradient_bytes\n";
      for (const auto& m : rows)
        out << m.ranks << ',' << m.depth << ',' << m.batch << ',' << m.dataset << ',' << m.samples_per_s << ','
            << m.step_s << ',' << m.compute_s << ',' << m.allreduce_wait_s << ',' << m.input_wait_s << ','
            << m.optimizer_s << ',' << m.gradient_bytes << '\n';
    }
    if (!predictions_csv_path.empty()) {
      std::ofstream out(predictions_csv_path);
      if (!out) throw UsageError("--predictions-csv " + predictions_csv_path + ": cannot write");
      out << "source,depth,batch_per_rank,dataset,ranks,samples_per_s,efficiency\n";
      for (const auto& p : predictions)
        out << '"' << p.source << "\"," << p.depth << ',' << p.batch << ',' << p.dataset << ',' << p.ranks << ','
            << p.samples_per_s << ',' << p.efficiency << '\n';
    }
  }

  std::string v100_predictions(double bucket_bytes) {
    ClusterModel v100{"V100 nodes", gpus_per_node, {nvlink_latency_us * 1e-6, nvlink_gbps * 1e9},
                      {ib_latency_us * 1e-6, ib_gbps * 1e9}};
    std::ostringstream md;
    char line[512];
    md << "\n## Predictions for the study's V100 configurations (model output, not measurements)\n\n"
       << "Assumed inputs (none measured here; change them with the --v100-* / --nvlink-* / --ib-* flags):\n\n"
       << "- V100 step time, depth 14, batch 128, 200x200x1: **" << v100_depth14_step_s
       << " s (assumed)**; other depths and batches scale with FLOPs (3 x forward 3x3 convolutions: "
       << resnet_train_gflop_per_sample(14, 200, 200) << " GFLOP/sample at depth 14); forward 1/3, backward 2/3, "
          "optimizer not counted; input assumed hidden by prefetching.\n"
       << "- " << gpus_per_node << " GPUs per node; inside a node NCCL ring over NVLink: " << nvlink_gbps
       << " GB/s, " << nvlink_latency_us << " us per step (assumed); between nodes InfiniBand EDR per ring: "
       << ib_gbps << " GB/s, " << ib_latency_us << " us per step (assumed).\n"
       << "- Gradients: the study's parameter counts x 4 bytes, buckets of " << bucket_bytes / 1e6
       << " MB reduced in reverse layer order while backward runs; ring all-reduce only (NCCL's trees would "
          "lower the latency term beyond a few nodes, so large counts are pessimistic).\n\n"
       << "| depth | batch/GPU | GPUs | gradient MB | step s | all-reduce s | exposed s | samples/s | efficiency |\n"
       << "|---|---|---|---|---|---|---|---|---|\n";
    for (int depth : {8, 14, 20, 26, 32})
      for (int batch : {128, 512}) {
        const double flops_ratio =
            resnet_train_gflop_per_sample(depth, 200, 200) / resnet_train_gflop_per_sample(14, 200, 200);
        const double step = v100_depth14_step_s * flops_ratio * batch / 128.0;
        StepProfile sp{step / 3, 2 * step / 3, 0, double(study_parameter_count(depth)) * 4, batch};
        for (int p : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {
          auto r = predict_data_parallel(sp, v100, p, bucket_bytes);
          if (p <= 32) predictions.push_back({"V100 (assumed)", depth, batch, 0, p, r.samples_per_s, r.efficiency});
          if ((depth != 14 || batch != 128) && p != 2 && p != 32 && p != 512) continue;
          std::snprintf(line, sizeof line, "| %d | %d | %d | %.3f | %.4f | %.5f | %.5f | %.0f | %.3f |\n", depth,
                        batch, p, sp.gradient_bytes / 1e6, r.step_s, r.allreduce_s, r.exposed_s, r.samples_per_s,
                        r.efficiency);
          md << line;
        }
      }
    return md.str();
  }
};

template <typename T>
std::vector<T> parse_list(const std::string& text, const char* flag) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t v = flag_checks::parse_count(item, flag);
    if (v == 0) throw UsageError(std::string(flag) + ": '" + item + "' is not a positive integer");
    out.push_back(T(v));
  }
  return out;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto cmd = std::make_shared<BenchScaling>();
  auto strings = std::make_shared<std::array<std::string, 3>>();
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* sub = bench->add_subcommand(
      "scaling", "Throughput map over ranks x batch x data set size x depth (run under mpirun) and the scaling model");
  cmd->dist.add_to(sub);
  cmd->backend.add_to(sub);
  sub->add_option("--depths", (*strings)[0], "Depths, comma-separated (default 8,14)");
  sub->add_option("--batches", (*strings)[1], "Per-rank batch sizes, comma-separated (default 16,64)");
  sub->add_option("--sizes", (*strings)[2], "Data set sizes in images, comma-separated (default 512)");
  sub->add_option("--image-size", cmd->image_size, "Square image side for the measurement")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--steps", cmd->steps, "Timed steps per configuration")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_flag("--model-only", cmd->model_only, "Skip the training measurement (all-reduce timing and model only)");
  sub->add_option("--csv", cmd->csv_path, "Write the measured rows as CSV");
  sub->add_option("--markdown", cmd->markdown_path, "Write the full report as markdown");
  sub->add_option("--predictions-csv", cmd->predictions_csv_path,
                  "Write the model's predictions (this machine's link for 2-32 ranks, V100 nodes for 1-32 GPUs) as "
                  "CSV (dasnet report --scaling draws them)");
  sub->add_option("--v100-step-s", cmd->v100_depth14_step_s, "Assumed V100 step time, depth 14, batch 128")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--gpus-per-node", cmd->gpus_per_node, "Assumed GPUs per node")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--nvlink-gbps", cmd->nvlink_gbps, "Assumed intra-node ring bandwidth, GB/s")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--nvlink-latency-us", cmd->nvlink_latency_us, "Assumed intra-node latency per ring step, us")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->add_option("--ib-gbps", cmd->ib_gbps, "Assumed inter-node ring bandwidth, GB/s")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--ib-latency-us", cmd->ib_latency_us, "Assumed inter-node latency per ring step, us")
      ->capture_default_str()
      ->check(flag_checks::non_negative);
  sub->callback([cmd, strings] {
    if (!(*strings)[0].empty()) cmd->depths = parse_list<int>((*strings)[0], "--depths");
    if (!(*strings)[1].empty()) cmd->batches = parse_list<int>((*strings)[1], "--batches");
    if (!(*strings)[2].empty()) cmd->dataset_sizes = parse_list<long>((*strings)[2], "--sizes");
    if (cmd->steps <= 0) throw UsageError("--steps must be positive");
    cmd->run();
  });
}

}  // namespace dasnet
