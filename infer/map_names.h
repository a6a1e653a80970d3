// Where `dasnet infer` writes each record's map under -o: the record's file name without its
// extension (rec.h5 -> rec.pmap.h5, rec.png), or, for records that share that name (a/rec.h5 and
// b/rec.h5), its path below the folder those records have in common (maps/a/rec.pmap.h5,
// maps/b/rec.pmap.h5). Two inputs that would still write one map (the same file twice, a/rec.h5
// and a/rec.segy) are refused, naming both. Every rank computes the same names from the same list,
// so ranks never write one file.
#pragma once
#include <string>
#include <vector>
#include "core/usage_error.h"

namespace dasnet {

// One name per file, in order, relative to the output folder and without a suffix ("rec",
// "a/rec"); throws UsageError naming both inputs when two would collide.
std::vector<std::string> map_output_names(const std::vector<std::string>& files);

}  // namespace dasnet
