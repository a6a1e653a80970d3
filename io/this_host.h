// This host and its processes, for the owners that files and ledger rows name ("<host>.<pid>"):
// a pid means something only on the host that issued it.
#pragma once
#include <cstdint>
#include <string>

namespace dasnet {

std::string host_name();        // gethostname(), "unknown" when that fails
bool process_alive(int64_t pid);  // a process with this pid runs on this host (stopped ones too)

}  // namespace dasnet
