#include "sweep/model_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/reference_set.h"

namespace dasnet {

std::vector<ReferenceRange> study_reference_ranges() {
  std::vector<ReferenceRange> ranges;
  for (const auto& k : reference_kinds()) ranges.push_back({k.name, k.expected_min, k.expected_max});
  return ranges;
}

void apply_range_flag(std::vector<ReferenceRange>& ranges, const std::string& flag) {
  auto bad = [&](const std::string& why) { throw UsageError("--range '" + flag + "': " + why + " (form: name=min:max)"); };
  size_t eq = flag.find('='), colon = flag.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos) bad("missing '=' or ':'");
  std::string name = flag.substr(0, eq);
  ReferenceRange r{name, 0, 1};
  try {
    r.min = std::stod(flag.substr(eq + 1, colon - eq - 1));
    r.max = std::stod(flag.substr(colon + 1));
  } catch (const std::exception&) {
    bad("min and max must be numbers");
  }
  if (!(r.min <= r.max)) bad("min must be <= max");
  for (auto& existing : ranges)
    if (existing.name == name) {
      existing = r;
      return;
    }
  ranges.push_back(r);
}

std::vector<ModelCandidate> rank_models(const Ledger& ledger, const std::vector<ReferenceRange>& ranges) {
  std::map<int64_t, TrialRow> trials;
  for (auto& t : ledger.trials()) trials[t.id] = t;
  std::vector<ModelCandidate> rows;
  for (const auto& row : ledger.epochs()) {
    const EpochMetrics& e = row.metrics;
    ModelCandidate c;
    c.trial_id = row.trial_id;
    c.epoch = e.epoch;
    const TrialRow& t = trials[row.trial_id];
    c.config = TrialConfig::from_json(t.config);
    c.state = trial_state_name(t.state);
    c.val_accuracy = e.val_accuracy;
    c.checkpoint = row.checkpoint;
    bool complete_set = true;
    double sum = 0;
    for (const auto& r : ranges) {
      double p = std::nan("");
      for (const auto& [name, value] : e.p_usable)
        if (name == r.name) p = value;
      if (std::isnan(p)) complete_set = false;
      c.p.push_back(p);
      c.in_range += r.contains(p);
      sum += (p - r.centre()) * (p - r.centre());
    }
    if (!complete_set) continue;
    c.distance = std::sqrt(sum);
    rows.push_back(c);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ModelCandidate& a, const ModelCandidate& b) {
    if (a.in_range != b.in_range) return a.in_range > b.in_range;
    return a.distance < b.distance;
  });
  return rows;
}

std::string format_selection_table(const std::vector<ModelCandidate>& rows, const std::vector<ReferenceRange>& ranges) {
  std::string out;
  char cell[128];
  std::snprintf(cell, sizeof cell, "%6s %9s %6s %6s", "depth", "lr", "batch", "epoch");
  out += cell;
  for (const auto& r : ranges) {
    std::snprintf(cell, sizeof cell, " %18.18s", r.name.c_str());
    out += cell;
  }
  out += "   trial  distance  val_acc\n";
  std::snprintf(cell, sizeof cell, "%6s %9s %6s %6s", "", "", "", "");
  out += cell;
  for (const auto& r : ranges) {
    std::snprintf(cell, sizeof cell, " %18s", ("[" + std::to_string(r.min).substr(0, 4) + ", " +
                                               std::to_string(r.max).substr(0, 4) + "]").c_str());
    out += cell;
  }
  out += "\n";
  for (const auto& c : rows) {
    std::snprintf(cell, sizeof cell, "%6d %9g %6d %6d", c.config.depth, c.config.lr, c.config.batch_size, c.epoch);
    out += cell;
    for (size_t i = 0; i < ranges.size(); ++i) {
      std::snprintf(cell, sizeof cell, " %17.4f%s", c.p[i], ranges[i].contains(c.p[i]) ? " " : "*");
      out += cell;
    }
    std::snprintf(cell, sizeof cell, "   %5lld  %8.4f  %7.4f\n", static_cast<long long>(c.trial_id), c.distance,
                  c.val_accuracy);
    out += cell;
  }
  return out;
}

void write_selection_csv(const std::string& path, const std::vector<ModelCandidate>& rows,
                         const std::vector<ReferenceRange>& ranges) {
  std::ofstream out(path);
  if (!out) throw UsageError("--csv " + path + ": cannot write");
  out << "trial,epoch,depth,lr,batch_size,images_per_class,channels,outputs,block,processor,ranks";
  for (const auto& r : ranges) out << ",p_" << r.name;
  out << ",in_range,matches,distance,val_accuracy,checkpoint\n";
  out.precision(8);
  for (const auto& c : rows) {
    out << c.trial_id << ',' << c.epoch << ',' << c.config.depth << ',' << c.config.lr << ',' << c.config.batch_size
        << ',' << c.config.images_per_class << ',' << c.config.channels << ',' << c.config.outputs << ','
        << c.config.block << ',' << c.config.processor << ',' << c.config.ranks;
    for (double p : c.p) out << ',' << p;
    out << ',' << c.in_range << ',' << (c.matches(ranges.size()) ? 1 : 0) << ',' << c.distance << ','
        << c.val_accuracy << ',' << c.checkpoint << '\n';
  }
}

}  // namespace dasnet
