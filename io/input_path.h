// Every input path is checked before anything opens it: opening a FIFO blocks until a writer
// appears (forever, for a user who passed one by mistake), and a directory reads as an empty
// file. DAS records, data sets, checkpoints, reference sets, sweep specs and ledgers all pass
// through require_input_path.
#pragma once
#include <string>

namespace dasnet {

enum class InputKind {
  file,            // a regular file (or a link to one)
  file_or_folder,  // also a directory, where a command takes a folder of files
};

// Throws std::runtime_error naming the path and what it is instead (missing, a directory, a
// FIFO, a socket, a device) unless it is of the kind asked for.
void require_input_path(const std::string& path, InputKind kind = InputKind::file);

}  // namespace dasnet
