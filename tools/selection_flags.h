// --time and --distance (io/das_selection.h), registered the same way on every command that
// reads records: inspect, convert, label, dataset build, infer.
#pragma once
#include <CLI/CLI.hpp>

#include "io/das_selection.h"

namespace dasnet {

inline void add_selection_flags(CLI::App* app, DasSelection& selection) {
  app->add_option("--time", selection.time,
                  "START/END: read only samples at times >= START and < END; each an ISO-8601 time (UTC unless "
                  "it names a zone) or seconds from the record's first sample; either may be left out (\"/60\")");
  app->add_option("--distance", selection.distance,
                  "A:B: read only channels at distances >= A and < B metres along the fibre; either may be left "
                  "out (\"100:\")");
}

}  // namespace dasnet
