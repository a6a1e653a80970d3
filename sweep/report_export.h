// Data behind the sweep report: one CSV row per (trial, epoch) with the nine dimensions, the
// metrics and the reference probabilities (HiPlot and pandas read it as is), the reference
// images as JSON, and the call of the plotting scripts (tools/plots/sweep_report.py, and
// tools/plots/run_summary.py for the page of a single training run).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sweep/ledger.h"
#include "sweep/model_selection.h"

namespace dasnet {

// Writes runs.csv; returns the number of rows.
size_t write_runs_csv(const std::string& path, const Ledger& ledger, const std::vector<ReferenceRange>& ranges);
// Writes the ranges and, when reference_set_path is given, the images (first channel) as JSON.
void write_references_json(const std::string& path, const std::vector<ReferenceRange>& ranges,
                           const std::string& reference_set_path);

// A plotting script of tools/plots by file name: $DASNET_PLOTS_DIR/<name> when set, else the
// source tree's tools/plots/<name>.
std::string default_plots_script(const std::string& name);
// Runs `python3 SCRIPT --flag value ...`; throws with the script's message (e.g. how to install
// matplotlib) when it fails or python3 is missing.
void run_plots_script(const std::string& script, const std::vector<std::pair<std::string, std::string>>& flags);

}  // namespace dasnet
