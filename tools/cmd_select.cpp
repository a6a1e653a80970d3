// dasnet select: the (trial, epoch) models whose reference probabilities all lie in range.
#include <cstdio>
#include <memory>

#include "core/tensor.h"
#include "io/durable_file.h"
#include "sweep/ledger.h"
#include "sweep/model_selection.h"
#include "tools/commands.h"
#include "tools/flag_checks.h"

namespace dasnet {

void add_select_command(CLI::App& app) {
  struct Select {
    std::string ledger, csv;
    std::vector<std::string> ranges;
    bool all = false;
    int top = 0;
  };
  auto cmd = std::make_shared<Select>();
  CLI::App* sub = app.add_subcommand("select", "Models whose P(usable) on every reference image is in range (Table 1)");
  sub->add_option("--ledger", cmd->ledger, "Sweep ledger")->required()->check(CLI::ExistingFile);
  sub->add_option("--range", cmd->ranges,
                  "Expected range of a reference, name=min:max (repeatable; default the study's: white_noise=0:0.1 "
                  "coherent_waves=0.9:1 noncoherent_waves=0.7:0.9 saturated=0.2:0.3)");
  sub->add_flag("--all", cmd->all, "Also list the models that miss a range (ranked after the matches; * marks misses)");
  sub->add_option("--top", cmd->top, "Print at most this many rows (0 = all)")->check(flag_checks::non_negative);
  sub->add_option("--csv", cmd->csv, "Write the listed rows as CSV");
  sub->callback([cmd] {
    auto ranges = study_reference_ranges();
    for (const auto& f : cmd->ranges) apply_range_flag(ranges, f);
    const auto ledger_file = Ledger::open_read_only(cmd->ledger);
    Ledger& ledger = *ledger_file;
    auto rows = rank_models(ledger, ranges);
    const size_t evaluated = rows.size();
    size_t matches = 0;
    for (const auto& r : rows) matches += r.matches(ranges.size());
    if (!cmd->all) rows.resize(matches);
    if (cmd->top > 0 && rows.size() > size_t(cmd->top)) rows.resize(size_t(cmd->top));
    std::printf("%zu of %zu (trial, epoch) models match every reference range\n\n", matches, evaluated);
    if (evaluated == 0)
      std::printf("(no epoch in this ledger has P(usable) of every reference: did the spec set data.reference?)\n");
    std::fputs(format_selection_table(rows, ranges).c_str(), stdout);
    if (!cmd->csv.empty()) {
      require_output_not_input(cmd->csv, {cmd->ledger}, "--csv");
      write_selection_csv(cmd->csv, rows, ranges);
      std::printf("\nwrote %s (%zu rows)\n", cmd->csv.c_str(), rows.size());
    }
  });
}

}  // namespace dasnet
