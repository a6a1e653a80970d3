#include "sweep/report_export.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/reference_set.h"

#ifndef DASNET_PLOTS_SCRIPT
#define DASNET_PLOTS_SCRIPT "tools/plots/sweep_report.py"
#endif

namespace dasnet {

size_t write_runs_csv(const std::string& path, const Ledger& ledger, const std::vector<ReferenceRange>& ranges) {
  std::ofstream out(path);
  if (!out) throw UsageError(path + ": cannot write the runs table");
  std::map<int64_t, TrialRow> trials;
  for (auto& t : ledger.trials()) trials[t.id] = t;
  out << "trial,epoch,state";
  for (const auto& d : trial_dimensions()) out << ',' << d;
  out << ",train_loss,train_accuracy,val_loss,val_accuracy,samples_per_s,epoch_seconds,peak_memory_mb";
  for (const auto& r : ranges) out << ",p_" << r.name;
  out << ",in_range,matches,distance,checkpoint\n";
  out.precision(8);
  size_t rows = 0;
  // Rank by reference distance through rank_models, keyed by (trial, epoch).
  std::map<std::pair<int64_t, int>, ModelCandidate> ranked;
  for (auto& c : rank_models(ledger, ranges)) ranked[{c.trial_id, c.epoch}] = c;
  for (const auto& row : ledger.epochs()) {
    const EpochMetrics& e = row.metrics;
    const TrialRow& t = trials[row.trial_id];
    TrialConfig c = TrialConfig::from_json(t.config);
    out << row.trial_id << ',' << e.epoch << ',' << trial_state_name(t.state) << ',' << c.processor << ',' << c.ranks
        << ',' << c.images_per_class << ',' << c.channels << ',' << c.batch_size << ',' << c.depth << ',' << c.block
        << ',' << c.bottleneck_width << ',' << c.outputs << ',' << c.epochs << ',' << c.lr << ',' << c.seed << ','
        << e.train_loss << ',' << e.train_accuracy << ',' << e.val_loss << ',' << e.val_accuracy << ','
        << e.samples_per_s << ',' << e.epoch_seconds << ',' << e.peak_memory_mb;
    auto it = ranked.find({row.trial_id, e.epoch});
    for (size_t i = 0; i < ranges.size(); ++i) {
      out << ',';
      if (it != ranked.end()) out << it->second.p[i];
    }
    if (it != ranked.end())
      out << ',' << it->second.in_range << ',' << (it->second.matches(ranges.size()) ? 1 : 0) << ','
          << it->second.distance;
    else
      out << ",,,";
    out << ',' << row.checkpoint << '\n';
    ++rows;
  }
  return rows;
}

void write_references_json(const std::string& path, const std::vector<ReferenceRange>& ranges,
                           const std::string& reference_set_path) {
  nlohmann::json j;
  j["references"] = nlohmann::json::array();
  std::vector<ReferenceImage> images;
  if (!reference_set_path.empty() && std::filesystem::exists(reference_set_path))
    images = load_reference_set(reference_set_path);
  for (const auto& r : ranges) {
    nlohmann::json item{{"name", r.name}, {"min", r.min}, {"max", r.max}};
    for (const auto& image : images)
      if (image.name == r.name) {
        const size_t plane = size_t(image.shape.h) * image.shape.w;
        item["height"] = image.shape.h;
        item["width"] = image.shape.w;
        item["pixels"] = std::vector<float>(image.image.begin(), image.image.begin() + long(plane));
      }
    j["references"].push_back(item);
  }
  std::ofstream out(path);
  if (!out) throw UsageError(path + ": cannot write");
  out << j.dump();
}

std::string default_plots_script(const std::string& name) {
  if (const char* dir = std::getenv("DASNET_PLOTS_DIR")) return (std::filesystem::path(dir) / name).string();
  return (std::filesystem::path(DASNET_PLOTS_DIR) / name).string();
}

namespace {
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

void run_plots_script(const std::string& script, const std::vector<std::pair<std::string, std::string>>& flags) {
  if (!std::filesystem::exists(script))
    throw UsageError("--script " + script + ": the plotting script is missing (set DASNET_PLOTS_DIR or --script)");
  if (std::system("command -v python3 >/dev/null 2>&1") != 0)
    throw std::runtime_error("python3 is not on PATH: the figures need Python 3 with matplotlib "
                             "(python3 -m pip install -r scripts/pip-packages.txt); the data files are written");
  std::string command = "python3 " + quoted(script);
  for (const auto& [flag, value] : flags) command += " " + flag + " " + quoted(value);
  std::fflush(stdout);  // our lines before the script's
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    throw std::runtime_error(script + " failed (exit " + std::to_string(code) + ")" +
                             (code == 3 ? ": a Python package is missing (named above): "
                                          "python3 -m pip install -r scripts/pip-packages.txt"
                                        : ""));
  }
}

}  // namespace dasnet
