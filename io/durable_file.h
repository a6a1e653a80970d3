// Files dasnet writes under a final name (checkpoints, data sets, reference sets, maps, synthetic
// records, PNGs) are written once, whole, or not at all: the content goes to
// "<final>.tmp.<host>.<pid>", which is closed (every error checked), fsynced and renamed over the
// final name, and the folder is fsynced so the rename itself survives a power loss. A kill at any moment leaves either no
// file or the complete file under the final name, plus at worst a temporary that the next
// dasnet process writing into that folder removes (remove_stale_temporaries).
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "core/usage_error.h"

namespace dasnet {

// "<final_path>.tmp.<host>.<pid>" of this process (the host keeps writers on several nodes of a
// shared file system apart).
std::string temporary_path_for(const std::string& final_path);

// Calls write(temporary) to fill the temporary file, then fsyncs it, renames it to final_path and
// fsyncs the folder. A process's first call for a folder removes the stale temporaries there
// (remove_stale_temporaries). On any failure (write throwing, a full disk, a failed fsync or
// rename) the temporary is removed, nothing appears under final_path, and the error is rethrown
// naming final_path.
void write_file_atomically(const std::string& final_path, const std::function<void(const std::string&)>& write);

// Removes "<folder>/*.tmp.<host>.<pid>" of this host left by processes that are no longer running
// (a kill -9 during a write). Temporaries of live processes, and of other hosts, are left alone.
// Returns how many were removed.
size_t remove_stale_temporaries(const std::string& folder);

// Throws UsageError (exit 2) when `output` is the same file as one of `inputs` (same device and
// inode, so a symlink or hard link to an input is caught too). Outputs that do not exist yet
// cannot be an input. `flag` names the output flag in the message.
void require_output_not_input(const std::string& output, const std::vector<std::string>& inputs,
                              const std::string& flag);

}  // namespace dasnet
