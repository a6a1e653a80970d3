// dasnet infer: usable-energy probability maps of long DAS records (HDF5 + PNG per record).
// Under mpirun/srun the files are dealt to the ranks by size (infer/file_dealing.h); each rank
// writes the maps of its files, rank 0 shows the progress of all ranks (they report to it every
// few seconds) and prints the totals (an all-reduce at the end). A file that fails is named by
// its rank, the others finish their files, and every rank exits non-zero.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "dist/communicator.h"
#include "engine/resnet.h"
#include "engine/trainer.h"
#include "infer/file_dealing.h"
#include "infer/probability_map.h"
#include "io/checkpoint.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"
#include "tools/run_options.h"

namespace dasnet {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

constexpr int kReportTag = 7201;  // rank -> rank 0: {"bytes": read so far, "finished": bool, "failures": [...]}
constexpr int kReleaseTag = 7202;  // rank 0 -> rank: every rank has finished, go on to the totals

// Rank 0's view of the other ranks: their reports, and who has gone silent.
class RankReports {
 public:
  RankReports(Communicator& comm, double timeout_s)
      : comm_(comm), timeout_s_(timeout_s), bytes_(size_t(comm.size()), 0), last_heard_(size_t(comm.size()), Clock::now()),
        finished_(size_t(comm.size()), false) {}

  // Takes the reports that have arrived; aborts the job if a rank is silent past the timeout.
  void drain(double wait_s) {
    std::string message;
    int source = 0;
    while (comm_.receive_bytes(&message, &source, Communicator::kAnySource, kReportTag, wait_s)) {
      auto j = nlohmann::json::parse(message);
      bytes_[size_t(source)] = j.at("bytes");
      last_heard_[size_t(source)] = Clock::now();
      if (j.at("finished").get<bool>()) finished_[size_t(source)] = true;
      for (const auto& f : j.at("failures")) failures_.push_back(f.get<std::string>());
      wait_s = 0;
    }
    for (int r = 1; r < comm_.size(); ++r)
      if (!finished_[size_t(r)] && seconds_since(last_heard_[size_t(r)]) > timeout_s_)
        comm_.abort("infer: rank " + std::to_string(r) + " sent nothing for " + std::to_string(int(timeout_s_)) +
                    " s (--dist-timeout): it died or hangs");
  }
  bool all_finished() const {
    for (int r = 1; r < comm_.size(); ++r)
      if (!finished_[size_t(r)]) return false;
    return true;
  }
  double other_ranks_bytes() const {
    double sum = 0;
    for (size_t r = 1; r < bytes_.size(); ++r) sum += bytes_[r];
    return sum;
  }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  Communicator& comm_;
  double timeout_s_;
  std::vector<double> bytes_;
  std::vector<Clock::time_point> last_heard_;
  std::vector<bool> finished_;
  std::vector<std::string> failures_;
};

}  // namespace

void add_infer_command(CLI::App& app) {
  struct Infer {
    std::string checkpoint, out_dir;
    std::vector<std::string> files;
    BackendOptions backend;
    InferOptions options;
    int stride = 0;
    double dist_timeout_s = 600;
    bool no_progress = false, no_png = false;
  };
  auto cmd = std::make_shared<Infer>();
  CLI::App* sub = app.add_subcommand("infer", "Probability maps of usable energy over long records (sliding window)");
  sub->add_option("checkpoint", cmd->checkpoint, "Model checkpoint (epoch_NNNN.h5)")->required()->check(CLI::ExistingFile);
  sub->add_option("files", cmd->files, "DAS records, any supported format")->required()->check(CLI::ExistingFile);
  sub->add_option("-o,--out", cmd->out_dir, "Output folder: <name>.pmap.h5 and <name>.png per record")->required();
  sub->add_option("--stride", cmd->stride, "Window step in both directions (default: the image size, no overlap)")
      ->check(flag_checks::non_negative);
  sub->add_option("--stride-channels", cmd->options.stride_channels, "Window step along distance (channels)")
      ->check(flag_checks::non_negative);
  sub->add_option("--stride-samples", cmd->options.stride_samples, "Window step along time (samples)")
      ->check(flag_checks::non_negative);
  sub->add_option("--batch-size", cmd->options.batch_size, "Windows per forward pass")
      ->capture_default_str()
      ->check(flag_checks::positive);
  sub->add_option("--dist-timeout", cmd->dist_timeout_s,
                  "Under mpirun/srun: seconds a rank may stay silent (it reports every few seconds) before the job "
                  "is aborted")
      ->capture_default_str()
      ->check(flag_checks::positive);
  cmd->backend.add_to(sub);
  sub->add_flag("--no-png", cmd->no_png, "Write only the HDF5 map");
  sub->add_flag("--no-progress", cmd->no_progress, "No live progress line");
  sub->callback([cmd] {
    if (cmd->stride < 0) throw UsageError("--stride must be >= 0");
    if (cmd->dist_timeout_s <= 0) throw UsageError("--dist-timeout must be positive");
    if (cmd->stride > 0) {
      if (cmd->options.stride_channels == 0) cmd->options.stride_channels = cmd->stride;
      if (cmd->options.stride_samples == 0) cmd->options.stride_samples = cmd->stride;
    }
    std::unique_ptr<Communicator> comm;
    if (launcher_world_size() > 1) {
      CommOptions comm_options;
      comm_options.backend = "mpi";
      comm_options.allreduce = AllreduceChoice::Library;  // one small all-reduce: no timing
      comm_options.timeout_s = cmd->dist_timeout_s;
      comm = make_communicator(comm_options);
    } else {
      comm = make_single_process_communicator();
    }
    const int rank = comm->rank(), ranks = comm->size();
    const bool leader = rank == 0;
    const std::string who = ranks > 1 ? "rank " + std::to_string(rank) + ": " : "";
    const auto job_started = Clock::now();

    std::vector<uint64_t> file_bytes;
    // A FIFO or a folder weighs nothing here; opening it fails that file alone (io/input_path.h).
    for (const auto& f : cmd->files)
      file_bytes.push_back(std::filesystem::is_regular_file(f) ? std::filesystem::file_size(f) : 0);
    const std::vector<size_t> my_files = deal_files_by_size(file_bytes, ranks)[size_t(rank)];
    double all_files_bytes = 0;
    for (uint64_t b : file_bytes) all_files_bytes += double(b);

    std::vector<std::string> failures;  // "FILE: message" of this rank
    double my_bytes = 0, my_seconds = 0, my_bytes_read = 0;
    size_t my_windows = 0;
    std::unique_ptr<RankReports> reports;
    if (leader && ranks > 1) reports = std::make_unique<RankReports>(*comm, cmd->dist_timeout_s);
    auto last_report = Clock::now() - std::chrono::hours(1);
    auto report = [&](bool finished) {
      if (ranks == 1) return;
      if (leader) return reports->drain(0);
      if (!finished && seconds_since(last_report) < 2) return;
      last_report = Clock::now();
      nlohmann::json j = {{"bytes", my_bytes_read}, {"finished", finished}, {"failures", finished ? failures : std::vector<std::string>{}}};
      comm->send_bytes(j.dump(), 0, kReportTag);
    };

    // A wrong flag is wrong for every file: exit 2 at once (on every rank: the launcher ends the job).
    auto usage_error = [&](const UsageError& e) {
      if (ranks == 1) throw e;
      comm->abort(e.what());
    };
    try {
      auto backend = cmd->backend.create();
      TrainingState state = load_checkpoint(cmd->checkpoint);
      auto net = build_resnet(state.model, *backend, 0);
      load_weights(*net, state);
      std::filesystem::create_directories(cmd->out_dir);
      if (leader) {
        std::printf("dasnet infer: ResNet-%d, %d x %d x %d windows, %zu record(s)%s\n", state.model.depth,
                    state.model.in_channels, state.model.height, state.model.image_width, cmd->files.size(),
                    ranks > 1 ? (" on " + std::to_string(ranks) + " ranks").c_str() : "");
        std::fflush(stdout);
      }
      for (size_t index : my_files) {
        const std::string& file = cmd->files[index];
        const std::string stem = std::filesystem::path(file).stem().string();
        const auto started = Clock::now();
        const double bytes_before = my_bytes_read;
        InferOptions options = cmd->options;
        options.progress = [&](double done, double total) {
          my_bytes_read = bytes_before + done;
          report(false);
          if (cmd->no_progress || !leader) return;
          double s = seconds_since(started);
          if (ranks == 1) {
            std::fprintf(stderr, "\r%s: %5.1f%%  %.1f MB/s  ", stem.c_str(), total > 0 ? 100 * done / total : 100.0,
                         s > 0 ? done / 1e6 / s : 0.0);
          } else {
            double all = my_bytes_read + reports->other_ranks_bytes();
            std::fprintf(stderr, "\rall ranks: %5.1f%% of %.0f MB  %.1f MB/s  ", 100 * all / std::max(1.0, all_files_bytes),
                         all_files_bytes / 1e6, all / 1e6 / std::max(1e-9, seconds_since(job_started)));
          }
          std::fflush(stderr);
        };
        try {
          ProbabilityMap map = infer_probability_map(*net, state.model, file, options);
          if (!cmd->no_progress && leader) std::fprintf(stderr, "\n");
          const std::string h5 = (std::filesystem::path(cmd->out_dir) / (stem + ".pmap.h5")).string();
          write_probability_map_h5(h5, map, cmd->checkpoint);
          if (!cmd->no_png) write_probability_map_png((std::filesystem::path(cmd->out_dir) / (stem + ".png")).string(), map);
          double usable = 0;
          size_t scored = 0;
          for (float p : map.p)
            if (!std::isnan(p)) usable += p >= 0.5f, ++scored;
          std::printf("%s%s: %zu x %zu samples (%s), %zu windows (%zu skipped), %.1f MB in %.2f s = %.1f MB/s, "
                      "%.0f windows/s; %.1f%% of cells P >= 0.5 -> %s\n",
                      who.c_str(), file.c_str(), map.record_channels, map.record_samples, map.format.c_str(),
                      map.windows, map.skipped_windows, map.raw_bytes / 1e6, map.seconds,
                      map.raw_bytes / 1e6 / map.seconds, map.windows / map.seconds,
                      scored ? 100.0 * usable / scored : 0.0, h5.c_str());
          std::fflush(stdout);
          my_bytes += map.raw_bytes;
          my_seconds += map.seconds;
          my_windows += map.windows;
        } catch (const UsageError& e) {
          usage_error(e);
        } catch (const std::exception& e) {
          // The other files (and ranks) still get their maps; the exit status reports this one.
          const std::string what = e.what();
          failures.push_back(what.find(file) == std::string::npos ? file + ": " + what : what);
          std::fprintf(stderr, "\ndasnet infer: %serror: %s\n", who.c_str(), failures.back().c_str());
          std::fflush(stderr);
        }
        my_bytes_read = bytes_before + double(file_bytes[index]);
        report(false);
      }
    } catch (const UsageError& e) {
      usage_error(e);
    } catch (const std::exception& e) {
      // The model could not be loaded: every file of this rank fails with the same reason.
      for (size_t index : my_files) failures.push_back(cmd->files[index] + ": " + e.what());
      std::fprintf(stderr, "dasnet infer: %serror: %s\n", who.c_str(), e.what());
    }

    const double my_failures = double(failures.size());
    if (ranks > 1) {
      // Every rank reaches the all-reduce only once all have finished, so its watchdog never
      // times a rank that is merely still busy with a large file.
      if (leader) {
        while (!reports->all_finished()) reports->drain(0.5);
        for (int r = 1; r < ranks; ++r) comm->send_bytes("go", r, kReleaseTag);
        failures.insert(failures.end(), reports->failures().begin(), reports->failures().end());
      } else {
        report(true);
        std::string go;
        while (!comm->receive_bytes(&go, nullptr, 0, kReleaseTag, 3600)) {
        }
      }
    }
    double totals[4] = {my_bytes, my_seconds, double(my_windows), my_failures};
    comm->all_reduce_sum(totals, 4);
    const double wall_s = seconds_since(job_started);
    if (leader && (cmd->files.size() > 1 || ranks > 1))
      std::printf("total: %.1f MB in %.2f s = %.1f MB/s (%d rank%s, %.1f s of inference summed over ranks), "
                  "%.0f windows\n",
                  totals[0] / 1e6, wall_s, totals[0] / 1e6 / wall_s, ranks, ranks > 1 ? "s" : "", totals[1],
                  totals[2]);
    if (totals[3] > 0) {
      std::string text = std::to_string(int(totals[3])) + " of " + std::to_string(cmd->files.size()) + " files failed";
      if (leader)
        for (const auto& f : failures) text += "\n  " + f;
      else
        text += " (rank 0 lists them)";
      throw std::runtime_error(text);
    }
  });
}

}  // namespace dasnet
