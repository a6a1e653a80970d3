// dasnet report: the figures (PNG, SVG) and one self-contained HTML page of a sweep (--ledger), of
// a single training run (--metrics, optionally with the usable-energy maps of dasnet infer), or of
// the throughput map of dasnet bench scaling (--scaling: the study's Figure 2).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "sweep/ledger.h"
#include "sweep/report_export.h"
#include "sweep/sweep_spec.h"
#include "tools/commands.h"

namespace dasnet {

namespace {

struct Report {
  std::string ledger, metrics, out_dir, script, reference, formats = "png,svg";
  std::vector<std::string> ranges, maps, scaling;
  std::string predictions;
  bool csv_only = false;
};

// The page of one training run: its metrics, the reference images and any maps.
void report_run(const Report& cmd, const std::vector<ReferenceRange>& ranges) {
  std::filesystem::create_directories(cmd.out_dir);
  const std::string refs = (std::filesystem::path(cmd.out_dir) / "references.json").string();
  write_references_json(refs, ranges, cmd.reference);
  if (cmd.csv_only) return;
  std::vector<std::pair<std::string, std::string>> flags{
      {"--metrics", cmd.metrics}, {"--references", refs}, {"--out", cmd.out_dir}, {"--formats", cmd.formats}};
  for (const auto& map : cmd.maps) flags.emplace_back("--map", map);
  run_plots_script(cmd.script.empty() ? default_plots_script("run_summary.py") : cmd.script, flags);
  std::printf("wrote %s/summary.html\n", cmd.out_dir.c_str());
}

// The throughput map: measured rows of bench scaling runs and the model's predictions.
void report_scaling(const Report& cmd) {
  std::vector<std::pair<std::string, std::string>> flags{{"--out", cmd.out_dir}, {"--formats", cmd.formats}};
  for (const auto& csv : cmd.scaling) flags.emplace_back("--measured", csv);
  if (!cmd.predictions.empty()) flags.emplace_back("--predictions", cmd.predictions);
  std::filesystem::create_directories(cmd.out_dir);
  run_plots_script(cmd.script.empty() ? default_plots_script("scaling_report.py") : cmd.script, flags);
  std::printf("wrote %s/report.html\n", cmd.out_dir.c_str());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto cmd = std::make_shared<Report>();
  CLI::App* sub = app.add_subcommand(
      "report", "Figures and an HTML page of a sweep or of one training run (needs python3 + matplotlib)");
  auto* ledger = sub->add_option("--ledger", cmd->ledger, "Sweep ledger: report.html")->check(CLI::ExistingFile);
  auto* metrics = sub->add_option("--metrics", cmd->metrics, "Metrics of one dasnet train run: summary.html")
                      ->check(CLI::ExistingFile)
                      ->excludes(ledger);
  auto* scaling = sub->add_option("--scaling", cmd->scaling,
                                  "Measured rows of dasnet bench scaling runs (--csv), one per rank count: the "
                                  "throughput map (report.html)")
                      ->check(CLI::ExistingFile)
                      ->excludes(ledger)
                      ->excludes(metrics);
  sub->add_option("--predictions", cmd->predictions,
                  "With --scaling: the model's predictions (dasnet bench scaling --predictions-csv)")
      ->check(CLI::ExistingFile)
      ->needs(scaling);
  sub->add_option("--map", cmd->maps, "With --metrics: usable-energy maps to draw (dasnet infer's .pmap.h5)")
      ->check(CLI::ExistingFile)
      ->needs(metrics);
  sub->add_option("-o,--out", cmd->out_dir, "Output folder")->required();
  sub->add_option("--reference", cmd->reference,
                  "Reference set to draw (default with --ledger: the spec's data.reference)");
  sub->add_option("--range", cmd->ranges, "Expected range name=min:max (as in dasnet select)");
  sub->add_option("--formats", cmd->formats, "Figure formats")->capture_default_str();
  sub->add_option("--script", cmd->script, "Plotting script (default tools/plots/sweep_report.py)");
  sub->add_flag("--csv-only", cmd->csv_only, "Write runs.csv and references.json only (no Python)");
  sub->callback([cmd] {
    auto ranges = study_reference_ranges();
    for (const auto& f : cmd->ranges) apply_range_flag(ranges, f);
    if (!cmd->metrics.empty()) return report_run(*cmd, ranges);
    if (!cmd->scaling.empty()) return report_scaling(*cmd);
    if (cmd->ledger.empty())
      throw UsageError("report: give --ledger (a sweep), --metrics (one training run) or --scaling (bench scaling)");
    const auto ledger_file = Ledger::open_read_only(cmd->ledger);
    Ledger& ledger = *ledger_file;
    std::filesystem::create_directories(cmd->out_dir);
    const std::string runs = (std::filesystem::path(cmd->out_dir) / "runs.csv").string();
    const std::string refs = (std::filesystem::path(cmd->out_dir) / "references.json").string();
    size_t rows = write_runs_csv(runs, ledger, ranges);
    std::string reference = cmd->reference;
    if (reference.empty()) {
      // The spec's reference set, as the trials used it.
      auto text = ledger.meta("spec_text");
      if (text) {
        try {
          reference = parse_sweep_spec(*text, "ledger spec", ledger.meta("spec_dir").value_or(".")).reference;
        } catch (const std::exception&) {
        }
      }
    }
    write_references_json(refs, ranges, reference);
    std::printf("wrote %s (%zu (trial, epoch) rows; HiPlot and pandas read it)\n", runs.c_str(), rows);
    if (cmd->csv_only) return;
    if (rows == 0) throw std::runtime_error(cmd->ledger + ": no epochs recorded yet: nothing to plot");
    run_plots_script(cmd->script.empty() ? default_plots_script("sweep_report.py") : cmd->script,
                     {{"--runs", runs}, {"--references", refs}, {"--out", cmd->out_dir}, {"--formats", cmd->formats}});
    std::printf("wrote %s/report.html\n", cmd->out_dir.c_str());
  });
}

}  // namespace dasnet
