// The JSON form of a DAS file's metadata: one object of `dasnet inspect --json`, and the
// metadata of a record read by the Python module (python/), so both name the same keys.
#pragma once
#include <nlohmann/json.hpp>

#include "io/das_formats.h"

namespace dasnet {

nlohmann::json das_info_json(const DasInfo& info);

}  // namespace dasnet
