#include "infer/inference_job.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "core/usage_error.h"
#include "dist/communicator.h"
#include "infer/file_dealing.h"
#include "infer/map_names.h"
#include "infer/rank_progress.h"
#include "io/checkpoint.h"
#include "io/das_source.h"
#include "io/durable_file.h"
#include "kernels/backend_factory.h"
#include "models/resnet.h"
#include "train/trainer.h"

namespace dasnet {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<Communicator> connect(double timeout_s) {
  if (launcher_world_size() <= 1) return make_single_process_communicator();
  CommOptions options;
  options.backend = "mpi";
  options.allreduce = AllreduceChoice::Library;  // one small all-reduce: no timing
  options.timeout_s = timeout_s;
  return make_communicator(options);
}

// One map to make: a file as given, or a continuous record of a folder's files.
struct InferUnit {
  std::string label;  // the file, or "FIRST .. LAST (N files)"
  std::string stem;   // output name: the file's stem, or "<first stem>--<last stem>"
  std::optional<DasSource> record;  // a folder's record (files given alone are opened when mapped)
  std::string error;  // a folder's file the readers refused
  uint64_t bytes = 0;
};

std::string stem_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

uint64_t size_of(const std::string& path) {
  // A FIFO or a folder weighs nothing here; opening it fails that file alone (io/input_path.h).
  return std::filesystem::is_regular_file(path) ? std::filesystem::file_size(path) : 0;
}

// Per unit, a path whose stem is its map's name, for map_output_names: the file itself, or a
// folder record's "<first>--<last>" beside its files.
std::vector<std::string> named_paths(const std::vector<InferUnit>& units) {
  std::vector<std::string> paths;
  for (const InferUnit& unit : units) {
    if (!unit.record) paths.push_back(unit.label);
    else {
      const std::filesystem::path folder = std::filesystem::path(unit.record->files().front()).parent_path();
      paths.push_back((folder / (unit.stem + ".record")).string());
    }
  }
  return paths;
}

// Every rank lists the same units in the same order (the folders' metadata decide them).
std::vector<InferUnit> list_units(const std::vector<std::string>& inputs, bool leader) {
  std::vector<InferUnit> units;
  for (const std::string& input : inputs) {
    if (!std::filesystem::is_directory(input)) {
      units.push_back({input, stem_of(input), std::nullopt, "", size_of(input)});
      continue;
    }
    const DasSeries series = order_series(expand_das_inputs({input}));
    for (const DasSource& record : series.segments) {
      const auto files = record.files();
      InferUnit unit{record.name(), stem_of(files.front()), record, "", 0};
      if (files.size() > 1) unit.stem += "--" + stem_of(files.back());
      for (const auto& f : files) unit.bytes += size_of(f);
      units.push_back(std::move(unit));
    }
    for (const std::string& bad : series.unreadable) units.push_back({bad.substr(0, bad.find(": ")), "", std::nullopt, bad, 0});
    if (leader)
      for (const SeriesBreak& b : series.breaks) std::printf("dasnet infer: break: %s (no map crosses it)\n", b.describe().c_str());
  }
  return units;
}

class InferenceRun {
 public:
  explicit InferenceRun(const InferenceJob& job)
      : job_(job), comm_(connect(job.dist_timeout_s)), rank_(comm_->rank()), ranks_(comm_->size()),
        leader_(rank_ == 0), who_(ranks_ > 1 ? "rank " + std::to_string(rank_) + ": " : ""),
        progress_(*comm_, job.dist_timeout_s), units_(list_units(job.files, leader_)),
        selection_(parse_selection(job.selection)) {
    for (const InferUnit& unit : units_) file_bytes_.push_back(unit.bytes);
    my_files_ = deal_files_by_size(file_bytes_, ranks_)[size_t(rank_)];
    for (uint64_t b : file_bytes_) all_files_bytes_ += double(b);
  }

  void run() {
    try {
      map_names_ = map_output_names(named_paths(units_));
      auto backend = job_.make_backend();
      TrainingState state = load_checkpoint(job_.checkpoint);
      auto net = build_resnet(state.model, *backend, 0);
      load_weights(*net, state);
      std::filesystem::create_directories(job_.out_dir);
      if (leader_) {
        std::printf("dasnet infer: ResNet-%d, %d x %d x %d windows, %zu record(s)%s\n", state.model.depth,
                    state.model.in_channels, state.model.height, state.model.image_width, units_.size(),
                    ranks_ > 1 ? (" on " + std::to_string(ranks_) + " ranks").c_str() : "");
        std::fflush(stdout);
      }
      for (size_t index : my_files_) infer_file(*net, state.model, index);
    } catch (const UsageError& e) {
      usage_error(e);
    } catch (const std::exception& e) {
      // The model could not be loaded: every file of this rank fails with the same reason.
      for (size_t index : my_files_) failures_.push_back(units_[index].label + ": " + e.what());
      std::fprintf(stderr, "dasnet infer: %serror: %s\n", who_.c_str(), e.what());
    }
    finish();
  }

 private:
  // A wrong flag is wrong for every file: exit 2 at once (on every rank: the launcher ends the job).
  void usage_error(const UsageError& e) {
    if (ranks_ == 1) throw e;
    comm_->abort(e.what());
  }

  void show_progress(const std::string& name, Clock::time_point started, double done, double total) {
    if (!job_.progress || !leader_) return;
    if (ranks_ == 1) {
      const double s = seconds_since(started);
      std::fprintf(stderr, "\r%s: %5.1f%%  %.1f MB/s  ", name.c_str(), total > 0 ? 100 * done / total : 100.0,
                   s > 0 ? done / 1e6 / s : 0.0);
    } else {
      const double all = progress_.all_ranks_bytes(bytes_read_);
      std::fprintf(stderr, "\rall ranks: %5.1f%% of %.0f MB  %.1f MB/s  ", 100 * all / std::max(1.0, all_files_bytes_),
                   all_files_bytes_ / 1e6, all / 1e6 / std::max(1e-9, seconds_since(job_started_)));
    }
    std::fflush(stderr);
  }

  void infer_file(Network& net, const ModelConfig& model, size_t index) {
    const InferUnit& unit = units_[index];
    const std::string& file = unit.label;
    const std::string& name = map_names_[index];
    const auto started = Clock::now();
    const double bytes_before = bytes_read_;
    InferOptions options = job_.options;
    options.progress = [&](double done, double total) {
      bytes_read_ = bytes_before + done;
      progress_.update(bytes_read_);
      show_progress(name, started, done, total);
    };
    try {
      if (!unit.error.empty()) throw std::runtime_error(unit.error);
      const DasSource record = (unit.record ? *unit.record : DasSource::file(file)).selected(selection_);
      ProbabilityMap map = infer_probability_map(net, model, record, options);
      if (job_.progress && leader_) std::fprintf(stderr, "\n");
      write_outputs(file, name, map);
    } catch (const UsageError& e) {
      usage_error(e);
    } catch (const std::exception& e) {
      // The other files (and ranks) still get their maps; the exit status reports this one.
      const std::string what = e.what();
      failures_.push_back(what.find(file) == std::string::npos ? file + ": " + what : what);
      std::fprintf(stderr, "\ndasnet infer: %serror: %s\n", who_.c_str(), failures_.back().c_str());
      std::fflush(stderr);
    }
    bytes_read_ = bytes_before + double(file_bytes_[index]);
    progress_.update(bytes_read_);
  }

  void write_outputs(const std::string& file, const std::string& name, const ProbabilityMap& map) {
    const std::filesystem::path out(job_.out_dir);
    const std::string h5 = (out / (name + ".pmap.h5")).string();
    const std::string png = (out / (name + ".png")).string();
    std::filesystem::create_directories(std::filesystem::path(h5).parent_path());  // maps/a/rec.pmap.h5
    std::vector<std::string> inputs;
    for (const InferUnit& unit : units_) {
      if (!unit.record) inputs.push_back(unit.label);
      else for (const std::string& f : unit.record->files()) inputs.push_back(f);
    }
    inputs.push_back(job_.checkpoint);
    require_output_not_input(h5, inputs, "-o");
    if (job_.png) require_output_not_input(png, inputs, "-o");
    write_probability_map_h5(h5, map, job_.checkpoint);
    if (job_.png) write_probability_map_png(png, map);
    double usable = 0;
    size_t scored = 0;
    for (float p : map.p)
      if (!std::isnan(p)) usable += p >= 0.5f, ++scored;
    std::printf("%s%s: %zu x %zu samples (%s), %zu windows (%zu skipped), %.1f MB in %.2f s = %.1f MB/s, "
                "%.0f windows/s; %.1f%% of cells P >= 0.5 -> %s\n",
                who_.c_str(), file.c_str(), map.record_channels, map.record_samples, map.format.c_str(), map.windows,
                map.skipped_windows, map.raw_bytes / 1e6, map.seconds, map.raw_bytes / 1e6 / map.seconds,
                map.windows / map.seconds, scored ? 100.0 * usable / scored : 0.0, h5.c_str());
    std::fflush(stdout);
    totals_[0] += map.raw_bytes;
    totals_[1] += map.seconds;
    totals_[2] += double(map.windows);
  }

  // Every rank reaches the all-reduce only once all have finished (RankProgress::finish).
  void finish() {
    totals_[3] = double(failures_.size());
    const std::vector<std::string> others = progress_.finish(bytes_read_, failures_);
    failures_.insert(failures_.end(), others.begin(), others.end());
    comm_->all_reduce_sum(totals_, 4);
    const double wall_s = seconds_since(job_started_);
    if (leader_ && (units_.size() > 1 || ranks_ > 1))
      std::printf("total: %.1f MB in %.2f s = %.1f MB/s (%d rank%s, %.1f s of inference summed over ranks), "
                  "%.0f windows\n",
                  totals_[0] / 1e6, wall_s, totals_[0] / 1e6 / wall_s, ranks_, ranks_ > 1 ? "s" : "", totals_[1],
                  totals_[2]);
    if (totals_[3] > 0) {
      std::string text = std::to_string(int(totals_[3])) + " of " + std::to_string(units_.size()) + " records failed";
      if (leader_)
        for (const auto& f : failures_) text += "\n  " + f;
      else
        text += " (rank 0 lists them)";
      throw std::runtime_error(text);
    }
  }

  const InferenceJob& job_;
  std::unique_ptr<Communicator> comm_;
  const int rank_, ranks_;
  const bool leader_;
  const std::string who_;
  const Clock::time_point job_started_ = Clock::now();
  RankProgress progress_;
  const std::vector<InferUnit> units_;
  const ParsedSelection selection_;
  std::vector<uint64_t> file_bytes_;
  std::vector<size_t> my_files_;
  std::vector<std::string> map_names_;  // per file: its map's path below -o, without suffix
  double all_files_bytes_ = 0;
  double bytes_read_ = 0;  // of this rank's files, for the progress reports
  double totals_[4] = {0, 0, 0, 0};  // raw bytes, seconds, windows, failures (this rank's, then all ranks')
  std::vector<std::string> failures_;  // "FILE: message"
};

}  // namespace

void run_inference_job(const InferenceJob& job) { InferenceRun(job).run(); }

}  // namespace dasnet
