#include "gotrace/util/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace gotrace {

namespace {

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A new temporary file next to path (mkstemp: O_EXCL, mode 0600).
int temp_next_to(const std::string& path, std::string& tmp) {
  tmp = directory_of(path) + "/." + base_of(path) + ".gotrace-XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) tmp.clear();
  return fd;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The file a path names: symbolic links followed, so that the link stays.
std::string resolved(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf)) return buf;
  return path;
}

}  // namespace

Result<void> check_replaceable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return make_error("{}", std::strerror(EISDIR));
    if (::access(path.c_str(), W_OK) != 0) return make_error("{}", std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return {};  // written directly
  }
  std::string tmp;
  int fd = temp_next_to(resolved(path), tmp);
  if (fd < 0) {
    // A writable file in a directory that takes no new file: written in
    // place at the end (still only once the run succeeded).
    if ((errno == EACCES || errno == EROFS || errno == EPERM) && ::access(path.c_str(), W_OK) == 0) return {};
    return make_error("{}", std::strerror(errno));
  }
  ::close(fd);
  ::unlink(tmp.c_str());
  return {};
}

Result<void> write_file_replacing(const std::string& given, std::string_view content) {
  const std::string path = resolved(given);
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  std::string tmp;
  int fd = -1;
  if (!exists || S_ISREG(st.st_mode)) {
    fd = temp_next_to(path, tmp);
    if (fd < 0 && !exists) return make_error("cannot write {}: {}", given, std::strerror(errno));
  }
  if (fd < 0) {  // not a regular file, or a directory that takes no new file: in place
    int out = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (out < 0) return make_error("cannot write {}: {}", given, std::strerror(errno));
    bool ok = write_all(out, content);
    int err = errno;
    if (::close(out) != 0 && ok) ok = false, err = errno;
    if (!ok) return make_error("writing {} failed: {}", given, std::strerror(err));
    return {};
  }
  mode_t mode = 0;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  bool ok = ::fchmod(fd, mode) == 0 && write_all(fd, content);
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;  // a full disk can show here
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    ::unlink(tmp.c_str());
    return make_error("writing {} failed: {}", given, std::strerror(err));
  }
  return {};
}

void reserve_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int got = ::open("/dev/null", O_RDONLY);  // the lowest free fd: this one
    if (got >= 0 && got != fd) {
      ::dup2(got, fd);
      ::close(got);
    }
  }
}

}  // namespace gotrace
