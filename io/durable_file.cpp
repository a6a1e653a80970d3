#include "io/durable_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/this_host.h"

namespace dasnet {

namespace {

constexpr const char* kTemporaryMarker = ".tmp.";

[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

// fsync of a file or a folder (O_RDONLY suffices for both on Linux).
void sync_path(const std::string& path, const std::string& shown_as, bool folder) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
  if (fd < 0) fail_errno(shown_as, folder ? "cannot open the folder to sync it" : "cannot reopen to sync");
  const int synced = fsync(fd);
  const int saved = errno;
  close(fd);
  errno = saved;
  if (synced != 0) fail_errno(shown_as, folder ? "cannot sync the folder" : "cannot sync to disk");
}

std::string folder_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// The pid of "<name>.tmp.<host>.<pid>" when <host> is this host, else 0 (not one of ours, or a
// writer on another node of a shared file system, whose pid means nothing here).
pid_t temporary_owner_here(const std::string& name) {
  const size_t marker = name.rfind(kTemporaryMarker);
  const size_t dot = name.rfind('.');
  if (marker == std::string::npos || marker == 0 || dot <= marker + std::strlen(kTemporaryMarker)) return 0;
  const std::string host = name.substr(marker + std::strlen(kTemporaryMarker), dot - marker - std::strlen(kTemporaryMarker));
  const std::string digits = name.substr(dot + 1);
  if (host != host_name() || digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return pid_t(std::stol(digits));
}

// The first write of this process into a folder clears the temporaries killed writers left there.
void remove_stale_temporaries_once(const std::string& folder) {
  static std::mutex mutex;
  static std::set<std::string> cleaned;
  std::lock_guard<std::mutex> lock(mutex);
  if (cleaned.insert(folder).second) remove_stale_temporaries(folder);
}

}  // namespace

std::string temporary_path_for(const std::string& final_path) {
  return final_path + kTemporaryMarker + host_name() + "." + std::to_string(getpid());
}

void write_file_atomically(const std::string& final_path, const std::function<void(const std::string&)>& write) {
  remove_stale_temporaries_once(folder_of(final_path));
  const std::string tmp = temporary_path_for(final_path);
  try {
    write(tmp);
    sync_path(tmp, final_path, false);
    if (std::rename(tmp.c_str(), final_path.c_str()) != 0) fail_errno(final_path, "cannot move the finished file into place");
  } catch (const UsageError&) {
    std::remove(tmp.c_str());
    throw;
  } catch (const std::runtime_error& e) {
    std::remove(tmp.c_str());
    // Name the file the user asked for: the temporary is gone.
    std::string message = e.what();
    for (size_t at = message.find(tmp); at != std::string::npos; at = message.find(tmp, at + final_path.size()))
      message.replace(at, tmp.size(), final_path);
    throw std::runtime_error(message);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_path(folder_of(final_path), final_path, true);
}

size_t remove_stale_temporaries(const std::string& folder) {
  std::error_code ec;
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const pid_t owner = temporary_owner_here(entry.path().filename().string());
    if (owner <= 0 || owner == getpid() || process_alive(owner)) continue;
    if (!entry.is_regular_file(ec)) continue;
    if (std::filesystem::remove(entry.path(), ec)) {
      std::fprintf(stderr, "dasnet: removed %s, left by process %d that is no longer running\n",
                   entry.path().c_str(), int(owner));
      ++removed;
    }
  }
  return removed;
}

void require_output_not_input(const std::string& output, const std::vector<std::string>& inputs,
                              const std::string& flag) {
  struct stat out {};
  if (stat(output.c_str(), &out) != 0) return;  // not there yet: cannot be an input
  for (const std::string& input : inputs) {
    struct stat in {};
    if (stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      throw UsageError(flag + " " + output + " is the input " + input +
                       " (the same file): writing it would destroy the input; choose another output");
  }
}

}  // namespace dasnet
