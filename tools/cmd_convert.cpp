// dasnet convert IN... -o OUT.h5: a window of any readable record (or of contiguous files read
// as one) written to DASDAE or PRODML 2.1 (io/das_writer.h).
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_source.h"
#include "io/das_time.h"
#include "io/das_writer.h"
#include "io/durable_file.h"
#include "tools/commands.h"
#include "tools/selection_flags.h"

namespace dasnet {
namespace {

struct ConvertCommand {
  std::vector<std::string> inputs;
  std::string output;
  std::string format = "dasdae";
  DasSelection selection;

  void run() const {
    const DasOutputFormat out_format = parse_das_output_format(format);
    const ParsedSelection parsed = parse_selection(selection);
    const std::vector<std::string> files = expand_das_inputs(inputs);
    require_output_not_input(output, files, "-o");
    const DasSeries series = order_series(files);
    if (!series.unreadable.empty()) throw std::runtime_error(series.unreadable.front());
    if (!series.breaks.empty())
      throw UsageError("the inputs are not one continuous record (" + series.breaks.front().describe() +
                       (series.breaks.size() > 1 ? ", and " + std::to_string(series.breaks.size() - 1) + " more" : "") +
                       "): convert each continuous part on its own");
    const DasSource source = series.segments.front().selected(parsed);
    const DasWriteReport report = write_das_file(output, source, out_format);
    const DasInfo& info = source.info();
    std::printf("wrote %s (%s, %s): %zu channels x %zu samples, %s to %s, distance %.6g m step %.6g m\n",
                output.c_str(), format.c_str(), report.dtype.c_str(), info.num_channels, info.num_samples,
                format_iso8601_ns(info.start_time_ns).c_str(), format_iso8601_ns(info.end_time_ns()).c_str(),
                info.distance_start_m, info.channel_spacing_m);
    for (const std::string& note : report.notes) std::fprintf(stderr, "dasnet: note: %s\n", note.c_str());
  }
};

}  // namespace

void add_convert_command(CLI::App& app) {
  auto command = std::make_shared<ConvertCommand>();
  CLI::App* sub = app.add_subcommand("convert", "Write a window of DAS records to DASDAE or PRODML 2.1 HDF5");
  sub->add_option("inputs", command->inputs,
                  "DAS files (any supported format) or folders of them; several must follow each other in time")
      ->required();
  sub->add_option("-o,--output", command->output, "Output HDF5 file (written atomically)")->required();
  sub->add_option("--format", command->format, "dasdae (DASCore's format, times to the ns) or prodml (PRODML 2.1)")
      ->capture_default_str();
  add_selection_flags(sub, command->selection);
  sub->callback([command] { command->run(); });
}

}  // namespace dasnet
