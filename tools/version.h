// What `dasnet --version` prints: the release, the commit it was built from, the CPU's vector ISA
// as detected now, and which optional libraries this binary was compiled with.
#pragma once
#include <string>

namespace dasnet {

std::string version_report();

}  // namespace dasnet
