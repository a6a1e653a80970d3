#include "sweep/sweep_spec.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/input_path.h"
#include "models/model_config.h"

namespace dasnet {

namespace {

namespace fs = std::filesystem;

// Every error names the spec file, the line when known, and the key.
struct SpecReader {
  std::string source;

  [[noreturn]] void fail(const std::string& key, const std::string& problem, const toml::node* node = nullptr) const {
    std::string where = source;
    if (node && node->source().begin.line > 0) where += ":" + std::to_string(node->source().begin.line);
    throw UsageError(where + ": " + key + ": " + problem);
  }

  void check_keys(const toml::table& table, const std::string& prefix, const std::set<std::string>& known) const {
    for (auto&& [key, value] : table) {
      std::string name(key.str());
      if (!known.count(name)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(prefix + name, "unknown key (known: " + list + ")", &value);
      }
    }
  }

  double number(const toml::node& node, const std::string& key) const {
    if (auto v = node.value<double>(); v && (node.is_integer() || node.is_floating_point())) return *v;
    fail(key, "expected a number", &node);
  }
  int64_t integer(const toml::node& node, const std::string& key) const {
    if (node.is_integer()) return *node.value<int64_t>();
    if (node.is_floating_point()) {
      double v = *node.value<double>();
      if (v == std::floor(v)) return int64_t(v);
    }
    fail(key, "expected an integer", &node);
  }
  std::string text(const toml::node& node, const std::string& key) const {
    if (node.is_string()) return *node.value<std::string>();
    fail(key, "expected a string", &node);
  }
  bool boolean(const toml::node& node, const std::string& key) const {
    if (node.is_boolean()) return *node.value<bool>();
    fail(key, "expected true or false", &node);
  }
};

bool is_word_dimension(const std::string& name) { return name == "processor" || name == "block"; }
bool is_real_dimension(const std::string& name) { return name == "lr"; }

void check_dimension_value(const SpecReader& r, const std::string& name, double v, const toml::node* node) {
  const std::string key = "space." + name;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::ostringstream s;
      s << "value " << v << " is not valid: " << what;
      r.fail(key, s.str(), node);
    }
  };
  if (name == "lr") return need(v > 0 && std::isfinite(v), "learning rates are > 0");
  need(v == std::floor(v), "must be an integer");
  if (name == "channels") return need(v == 1 || v == 3, "1 (grayscale) or 3 (RGB)");
  if (name == "bottleneck_width" || name == "seed") return need(v >= 0, "must be >= 0");
  if (name == "depth") return need(v >= 2, "depth >= 2");
  need(v >= 1, "must be >= 1");
}

DimensionValues read_dimension(const SpecReader& r, const std::string& name, const toml::node& node) {
  const std::string key = "space." + name;
  DimensionValues d;
  auto add = [&](const toml::node& item) {
    if (is_word_dimension(name)) {
      std::string w = r.text(item, key);
      if (name == "processor" && w != "cpu" && w != "gpu") r.fail(key, "'" + w + "' is not cpu or gpu", &item);
      if (name == "block" && w != "basic" && w != "bottleneck")
        r.fail(key, "'" + w + "' is not basic or bottleneck", &item);
      d.words.push_back(w);
    } else {
      double v = r.number(item, key);
      check_dimension_value(r, name, v, &item);
      d.numbers.push_back(v);
    }
  };
  if (auto* array = node.as_array()) {
    if (array->empty()) r.fail(key, "empty list", &node);
    for (auto&& item : *array) add(item);
  } else if (auto* range = node.as_table()) {
    if (is_word_dimension(name)) r.fail(key, "takes a list of words, not a range", &node);
    r.check_keys(*range, key + ".", {"min", "max", "step", "count", "log"});
    if (!range->contains("min") || !range->contains("max")) r.fail(key, "a range needs min and max", &node);
    d.min = r.number(*range->get("min"), key + ".min");
    d.max = r.number(*range->get("max"), key + ".max");
    if (!(d.max >= d.min)) r.fail(key, "max must be >= min", &node);
    if (auto* log = range->get("log")) d.log_scale = r.boolean(*log, key + ".log");
    if (d.log_scale && d.min <= 0) r.fail(key, "log ranges need min > 0", &node);
    check_dimension_value(r, name, d.min, range->get("min"));
    check_dimension_value(r, name, d.max, range->get("max"));
    if (auto* step = range->get("step")) {
      double s = r.number(*step, key + ".step");
      if (!(s > 0)) r.fail(key + ".step", "must be > 0", step);
      if (d.log_scale) r.fail(key, "use count (not step) with log = true", &node);
      for (double v = d.min; v <= d.max + 1e-9 * std::abs(s); v += s) d.numbers.push_back(v);
    } else if (auto* count = range->get("count")) {
      int64_t n = r.integer(*count, key + ".count");
      if (n < 1) r.fail(key + ".count", "must be >= 1", count);
      for (int64_t i = 0; i < n; ++i) {
        double f = n == 1 ? 0.0 : double(i) / double(n - 1);
        double v = d.log_scale ? d.min * std::pow(d.max / d.min, f) : d.min + f * (d.max - d.min);
        if (!is_real_dimension(name)) v = std::round(v);
        d.numbers.push_back(v);
      }
    } else {
      d.continuous = true;  // sampled; grids reject it later
    }
  } else {
    add(node);  // a single value
  }
  return d;
}

// Value of dimension `name` at position `index` into a trial.
void assign(TrialConfig& t, const std::string& name, const DimensionValues& d, size_t index) {
  if (name == "processor") t.processor = d.words[index];
  else if (name == "block") t.block = d.words[index];
  else {
    double v = d.numbers[index];
    if (name == "lr") t.lr = v;
    else if (name == "ranks") t.ranks = int(v);
    else if (name == "images_per_class") t.images_per_class = int(v);
    else if (name == "channels") t.channels = int(v);
    else if (name == "batch_size") t.batch_size = int(v);
    else if (name == "depth") t.depth = int(v);
    else if (name == "bottleneck_width") t.bottleneck_width = int(v);
    else if (name == "outputs") t.outputs = int(v);
    else if (name == "epochs") t.epochs = int(v);
    else if (name == "seed") t.seed = uint64_t(v);
  }
}

// Basic blocks ignore the bottleneck width: one canonical value so grids do not repeat them.
bool normalize_and_check(TrialConfig& t) {
  if (t.block == "basic") t.bottleneck_width = 0;
  ModelConfig m;
  m.depth = t.depth;
  m.block = parse_block_type(t.block);
  try {
    m.blocks_per_stage();
  } catch (const UsageError&) {
    return false;
  }
  return true;
}

}  // namespace

const char* pruning_rule_name(PruningRule rule) {
  switch (rule) {
    case PruningRule::median: return "median";
    case PruningRule::halving: return "halving";
    default: return "none";
  }
}

std::string SweepSpec::data_file_for(const TrialConfig& trial) const {
  if (synthetic) return "";
  for (const auto& f : files)
    if (f.images_per_class == trial.images_per_class && f.channels == trial.channels) return f.path;
  throw UsageError(source + ": data.files: no file for images_per_class = " + std::to_string(trial.images_per_class) +
                   ", channels = " + std::to_string(trial.channels));
}

namespace {

// Paths in the spec resolve against the spec file's folder.
std::string absolute_in(const std::string& base_dir, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : fs::path(base_dir) / path).lexically_normal().string();
}

// The section `name` of the spec, or null when absent; anything but a table is an error.
const toml::table* section(const SpecReader& r, const toml::table& root, const char* name) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  if (!node->is_table()) r.fail(name, "expected a table [" + std::string(name) + "]", node);
  return node->as_table();
}

// [sweep]: the study's name and how trials are drawn from the space.
void read_sweep_section(const SpecReader& r, const toml::table& t, SweepSpec& spec) {
  r.check_keys(t, "sweep.", {"name", "sampling", "trials", "sampling_seed"});
  if (auto* n = t.get("name")) spec.name = r.text(*n, "sweep.name");
  if (auto* n = t.get("sampling")) {
    std::string s = r.text(*n, "sweep.sampling");
    if (s != "grid" && s != "random") r.fail("sweep.sampling", "'" + s + "' is not grid or random", n);
    spec.random = s == "random";
  }
  if (auto* n = t.get("trials")) spec.random_trials = int(r.integer(*n, "sweep.trials"));
  if (auto* n = t.get("sampling_seed")) spec.sampling_seed = uint64_t(r.integer(*n, "sweep.sampling_seed"));
  if (spec.random && spec.random_trials < 1) r.fail("sweep.trials", "random sampling needs trials >= 1", &t);
}

// [space]: the values of each dimension. Needs [sweep] read first: continuous ranges are for
// random sampling only.
void read_space_section(const SpecReader& r, const toml::table& t, SweepSpec& spec) {
  const auto& dims = trial_dimensions();
  r.check_keys(t, "space.", std::set<std::string>(dims.begin(), dims.end()));
  for (auto&& [key, value] : t) {
    std::string name(key.str());
    spec.space[name] = read_dimension(r, name, value);
    if (spec.space[name].continuous && !spec.random)
      r.fail("space." + name, "a range without step or count can only be sampled (sweep.sampling = \"random\")",
             &value);
    if (spec.space[name].continuous && !is_real_dimension(name) && name != "seed")
      r.fail("space." + name, "continuous ranges are for lr; give step or count", &value);
  }
}

// data.files: one data set file per (images_per_class, channels).
void read_data_files(const SpecReader& r, const toml::node& n, SweepSpec& spec) {
  auto* array = n.as_array();
  if (!array) r.fail("data.files", "expected a list of {images_per_class, channels, path} tables", &n);
  for (auto&& item : *array) {
    auto* f = item.as_table();
    if (!f) r.fail("data.files", "each entry is a table {images_per_class = N, channels = 1, path = \"...\"}", &item);
    r.check_keys(*f, "data.files.", {"images_per_class", "channels", "path"});
    DataFileEntry e;
    if (!f->contains("images_per_class") || !f->contains("path"))
      r.fail("data.files", "an entry needs images_per_class and path", &item);
    e.images_per_class = int(r.integer(*f->get("images_per_class"), "data.files.images_per_class"));
    if (auto* c = f->get("channels")) e.channels = int(r.integer(*c, "data.files.channels"));
    e.path = absolute_in(spec.base_dir, r.text(*f->get("path"), "data.files.path"));
    spec.files.push_back(e);
  }
}

// [data]: synthetic images or data set files, and the reference set.
void read_data_section(const SpecReader& r, const toml::table& t, SweepSpec& spec) {
  r.check_keys(t, "data.", {"synthetic", "image_height", "image_width", "synthetic_seed", "files", "reference"});
  if (auto* n = t.get("image_height")) spec.image_height = int(r.integer(*n, "data.image_height"));
  if (auto* n = t.get("image_width")) spec.image_width = int(r.integer(*n, "data.image_width"));
  if (auto* n = t.get("synthetic_seed")) spec.synthetic_seed = uint64_t(r.integer(*n, "data.synthetic_seed"));
  if (auto* n = t.get("reference")) spec.reference = absolute_in(spec.base_dir, r.text(*n, "data.reference"));
  bool any_files = false;
  if (auto* n = t.get("files")) {
    read_data_files(r, *n, spec);
    any_files = !spec.files.empty();
  }
  spec.synthetic = !any_files;
  if (auto* n = t.get("synthetic")) {
    spec.synthetic = r.boolean(*n, "data.synthetic");
    if (spec.synthetic && any_files) r.fail("data.synthetic", "true, but data.files is also given: choose one", n);
    if (!spec.synthetic && !any_files) r.fail("data.files", "data.synthetic = false needs data.files", n);
  }
  if (spec.image_height < 1 || spec.image_width < 1)
    r.fail("data.image_height", "image sizes must be >= 1", &t);
}

// [run]: how each trial runs, and when a silent or stalled one is given up.
void read_run_section(const SpecReader& r, const toml::table& t, SweepSpec& spec) {
  r.check_keys(t, "run.", {"threads", "retries", "heartbeat_timeout_s", "progress_timeout_epochs",
                           "progress_timeout_floor_s", "checkpoints", "launcher", "extra_args"});
  if (auto* n = t.get("threads")) spec.threads = int(r.integer(*n, "run.threads"));
  if (auto* n = t.get("retries")) spec.retries = int(r.integer(*n, "run.retries"));
  if (auto* n = t.get("heartbeat_timeout_s")) spec.heartbeat_timeout_s = r.number(*n, "run.heartbeat_timeout_s");
  if (auto* n = t.get("progress_timeout_epochs"))
    spec.progress_timeout_epochs = r.number(*n, "run.progress_timeout_epochs");
  if (auto* n = t.get("progress_timeout_floor_s"))
    spec.progress_timeout_floor_s = r.number(*n, "run.progress_timeout_floor_s");
  if (auto* n = t.get("checkpoints")) spec.checkpoints = r.boolean(*n, "run.checkpoints");
  if (auto* n = t.get("launcher")) spec.launcher = r.text(*n, "run.launcher");
  if (auto* n = t.get("extra_args")) {
    auto* array = n->as_array();
    if (!array) r.fail("run.extra_args", "expected a list of strings", n);
    for (auto&& item : *array) spec.extra_args.push_back(r.text(item, "run.extra_args"));
  }
  if (spec.threads < 0) r.fail("run.threads", "must be >= 0", t.get("threads"));
  if (spec.retries < 0) r.fail("run.retries", "must be >= 0", t.get("retries"));
  if (!(spec.heartbeat_timeout_s > 0)) r.fail("run.heartbeat_timeout_s", "must be > 0", t.get("heartbeat_timeout_s"));
  if (!(spec.progress_timeout_epochs >= 0 && std::isfinite(spec.progress_timeout_epochs)))
    r.fail("run.progress_timeout_epochs", "must be a number >= 0 (0: never)", t.get("progress_timeout_epochs"));
  if (!(spec.progress_timeout_floor_s > 0 && std::isfinite(spec.progress_timeout_floor_s)))
    r.fail("run.progress_timeout_floor_s", "must be > 0", t.get("progress_timeout_floor_s"));
}

// [early_stopping]: the pruning rule and the epochs at which it decides.
void read_early_stopping_section(const SpecReader& r, const toml::table& t, EarlyStoppingSpec& es) {
  r.check_keys(t, "early_stopping.", {"rule", "at_epochs", "min_trials", "reduction_factor"});
  if (auto* n = t.get("rule")) {
    std::string rule = r.text(*n, "early_stopping.rule");
    if (rule == "median") es.rule = PruningRule::median;
    else if (rule == "halving" || rule == "successive_halving") es.rule = PruningRule::halving;
    else if (rule != "none") r.fail("early_stopping.rule", "'" + rule + "' is not none, median or halving", n);
  }
  if (auto* n = t.get("at_epochs")) {
    auto* array = n->as_array();
    if (!array) r.fail("early_stopping.at_epochs", "expected a list of epochs", n);
    for (auto&& item : *array) {
      int64_t e = r.integer(item, "early_stopping.at_epochs");
      if (e < 1) r.fail("early_stopping.at_epochs", "epochs start at 1", &item);
      es.at_epochs.push_back(int(e));
    }
  }
  if (auto* n = t.get("min_trials")) es.min_trials = int(r.integer(*n, "early_stopping.min_trials"));
  if (auto* n = t.get("reduction_factor")) es.reduction_factor = int(r.integer(*n, "early_stopping.reduction_factor"));
  if (es.rule != PruningRule::none && es.at_epochs.empty())
    r.fail("early_stopping.at_epochs", "a pruning rule needs the epochs at which it decides", &t);
  if (es.min_trials < 1) r.fail("early_stopping.min_trials", "must be >= 1", t.get("min_trials"));
  if (es.reduction_factor < 2) r.fail("early_stopping.reduction_factor", "must be >= 2", t.get("reduction_factor"));
}

// Cross-checks: every data set size has a file; multi-rank trials have a launcher.
void check_across_sections(const SpecReader& r, const SweepSpec& spec) {
  TrialConfig defaults;
  auto numbers_of = [&](const std::string& name, double fallback) {
    auto it = spec.space.find(name);
    if (it == spec.space.end() || it->second.continuous) return std::vector<double>{fallback};
    return it->second.numbers;
  };
  if (!spec.synthetic) {
    for (double n : numbers_of("images_per_class", defaults.images_per_class))
      for (double c : numbers_of("channels", defaults.channels)) {
        TrialConfig t;
        t.images_per_class = int(n);
        t.channels = int(c);
        spec.data_file_for(t);
      }
  }
  for (double ranks : numbers_of("ranks", 1))
    if (ranks > 1 && spec.launcher.empty())
      r.fail("space.ranks", "values > 1 need run.launcher, e.g. launcher = \"mpirun -np {ranks}\"");
}

}  // namespace

SweepSpec parse_sweep_spec(const std::string& text, const std::string& source, const std::string& base_dir) {
  SpecReader r{source};
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw UsageError(source + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  SweepSpec spec;
  spec.source = source;
  spec.base_dir = base_dir;
  r.check_keys(root, "", {"sweep", "space", "data", "run", "early_stopping"});
  // In this order: [space] depends on [sweep]'s sampling.
  if (auto* t = section(r, root, "sweep")) read_sweep_section(r, *t, spec);
  if (auto* t = section(r, root, "space")) read_space_section(r, *t, spec);
  else r.fail("space", "missing: the [space] table lists the values of each dimension");
  if (auto* t = section(r, root, "data")) read_data_section(r, *t, spec);
  if (auto* t = section(r, root, "run")) read_run_section(r, *t, spec);
  if (auto* t = section(r, root, "early_stopping")) read_early_stopping_section(r, *t, spec.early_stopping);
  check_across_sections(r, spec);
  return spec;
}

SweepSpec load_sweep_spec(const std::string& path) {
  require_input_path(path);
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot read the sweep spec");
  std::stringstream text;
  text << in.rdbuf();
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  return parse_sweep_spec(text.str(), path, dir.string());
}

ExpandedTrials expand_trials(const SweepSpec& spec) {
  ExpandedTrials out;
  std::set<std::string> seen;
  const auto& dims = trial_dimensions();
  auto keep = [&](TrialConfig t) {
    if (!normalize_and_check(t)) {
      ++out.dropped_invalid;
      return false;
    }
    if (!seen.insert(t.to_json()).second) return false;
    out.trials.push_back(t);
    return true;
  };
  if (!spec.random) {
    std::vector<std::pair<std::string, const DimensionValues*>> axes;
    for (const auto& name : dims) {
      auto it = spec.space.find(name);
      if (it != spec.space.end()) axes.push_back({name, &it->second});
    }
    std::vector<size_t> index(axes.size(), 0);
    while (true) {
      TrialConfig t;
      for (size_t a = 0; a < axes.size(); ++a) assign(t, axes[a].first, *axes[a].second, index[a]);
      keep(t);
      // Odometer: the last dimension (seed) varies fastest.
      size_t a = axes.size();
      while (a > 0) {
        --a;
        if (++index[a] < axes[a].second->size()) break;
        index[a] = 0;
        if (a == 0) return out;
      }
      if (axes.empty()) return out;
    }
  }
  std::mt19937_64 rng(spec.sampling_seed);
  int attempts = 0;
  while (int(out.trials.size()) < spec.random_trials && attempts < 100 * spec.random_trials) {
    ++attempts;
    TrialConfig t;
    for (const auto& [name, d] : spec.space) {
      if (d.continuous) {
        std::uniform_real_distribution<double> u(0, 1);
        double f = u(rng);
        double v = d.log_scale ? d.min * std::pow(d.max / d.min, f) : d.min + f * (d.max - d.min);
        if (name == "lr") t.lr = v;
        else t.seed = uint64_t(std::llround(v));
      } else {
        std::uniform_int_distribution<size_t> pick(0, d.size() - 1);
        assign(t, name, d, pick(rng));
      }
    }
    keep(t);
  }
  return out;
}

}  // namespace dasnet
