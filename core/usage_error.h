// The one exception type for a user's mistake: bad configuration, a bad flag or a bad input file.
// The message names the flag, field or file; the dasnet command prints it as it is.
#pragma once
#include <stdexcept>

namespace dasnet {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dasnet
