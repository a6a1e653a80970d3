// Data behind the sweep report: one CSV row per (trial, epoch) with the nine dimensions, the
// metrics and the reference probabilities (HiPlot and pandas read it as is), the reference
// images as JSON, and the call of the plotting script (tools/plots/sweep_report.py).
#pragma once
#include <string>
#include <vector>

#include "sweep/ledger.h"
#include "sweep/model_selection.h"

namespace dasnet {

// Writes runs.csv; returns the number of rows.
size_t write_runs_csv(const std::string& path, const Ledger& ledger, const std::vector<ReferenceRange>& ranges);
// Writes the ranges and, when reference_set_path is given, the images (first channel) as JSON.
void write_references_json(const std::string& path, const std::vector<ReferenceRange>& ranges,
                           const std::string& reference_set_path);

// The plotting script: --script if given, else $DASNET_PLOTS_DIR/sweep_report.py, else the
// source tree's tools/plots/sweep_report.py.
std::string default_report_script();
// Runs `python3 SCRIPT --runs CSV --references JSON --out DIR`; throws with the script's message
// (e.g. how to install matplotlib) when it fails or python3 is missing.
void run_report_script(const std::string& script, const std::string& runs_csv, const std::string& references_json,
                       const std::string& out_dir, const std::string& formats);

}  // namespace dasnet
