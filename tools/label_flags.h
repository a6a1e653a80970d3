// The labeling rule's thresholds as command-line flags, shared by `label` and `dataset build`.
#pragma once
#include <CLI/CLI.hpp>

#include "io/labeling.h"

namespace dasnet {

void add_label_rule_flags(CLI::App* cmd, LabelRule& rule);

}  // namespace dasnet
