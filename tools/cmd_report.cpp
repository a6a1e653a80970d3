// dasnet report: the sweep's figures (PNG, SVG) and one self-contained HTML page.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/tensor.h"
#include "sweep/ledger.h"
#include "sweep/report_export.h"
#include "sweep/sweep_spec.h"
#include "tools/commands.h"

namespace dasnet {

void add_report_command(CLI::App& app) {
  struct Report {
    std::string ledger, out_dir, script, reference, formats = "png,svg";
    std::vector<std::string> ranges;
    bool csv_only = false;
  };
  auto cmd = std::make_shared<Report>();
  CLI::App* sub = app.add_subcommand("report", "Figures and an HTML page of a sweep (needs python3 + matplotlib)");
  sub->add_option("--ledger", cmd->ledger, "Sweep ledger")->required()->check(CLI::ExistingFile);
  sub->add_option("-o,--out", cmd->out_dir, "Output folder")->required();
  sub->add_option("--reference", cmd->reference, "Reference set to draw (default: the spec's data.reference)");
  sub->add_option("--range", cmd->ranges, "Expected range name=min:max (as in dasnet select)");
  sub->add_option("--formats", cmd->formats, "Figure formats")->capture_default_str();
  sub->add_option("--script", cmd->script, "Plotting script (default tools/plots/sweep_report.py)");
  sub->add_flag("--csv-only", cmd->csv_only, "Write runs.csv and references.json only (no Python)");
  sub->callback([cmd] {
    auto ranges = study_reference_ranges();
    for (const auto& f : cmd->ranges) apply_range_flag(ranges, f);
    Ledger ledger(cmd->ledger);
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
    run_report_script(cmd->script.empty() ? default_report_script() : cmd->script, runs, refs, cmd->out_dir,
                      cmd->formats);
    std::printf("wrote %s/report.html\n", cmd->out_dir.c_str());
  });
}

}  // namespace dasnet
