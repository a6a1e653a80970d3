#include "io/input_path.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dasnet {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown file type";
}

}  // namespace

void require_input_path(const std::string& path, InputKind kind) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw std::runtime_error(path + ": no such file");
    throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  }
  if (S_ISREG(info.st_mode)) return;
  if (S_ISDIR(info.st_mode) && kind == InputKind::file_or_folder) return;
  throw std::runtime_error(path + ": " + kind_of(info.st_mode) + ", not a " +
                           (kind == InputKind::file_or_folder ? "file or folder" : "regular file"));
}

}  // namespace dasnet
