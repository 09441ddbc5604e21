#pragma once
// Runs a program as a child process with a fault injected: killed after a
// delay, a limit on the size of any file it writes (RLIMIT_FSIZE, which is
// how a test fills a disk without filling one), or without root's power to
// ignore folder permissions. Its output goes to a file.
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fault {

struct child_options {
  std::optional<std::chrono::microseconds> kill_after;  // SIGKILL at this age
  std::optional<rlim_t> file_size_limit;                // bytes any one file may reach
  bool ignore_file_size_signal = false;  // then an oversized write fails with EFBIG instead of killing
  bool unprivileged = false;             // run as user nobody when the test runs as root
};

struct child_result {
  bool exited = false;  // false: killed by a signal
  int exit_code = -1;
  int signal = 0;
  std::string output;  // stdout and stderr
};

inline std::string read_all(const std::filesystem::path& p) {
  std::string s;
  if (FILE* f = std::fopen(p.c_str(), "rb")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    std::fclose(f);
  }
  return s;
}

inline child_result run_child(const std::vector<std::string>& args, const child_options& o,
                              const std::filesystem::path& output_file) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (out < 0) throw std::runtime_error("cannot create " + output_file.string());
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (o.file_size_limit) {
      const rlimit limit{*o.file_size_limit, *o.file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ::signal(SIGXFSZ, o.ignore_file_size_signal ? SIG_IGN : SIG_DFL);
    if (o.unprivileged && ::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  if (o.kill_after) {
    const auto deadline = std::chrono::steady_clock::now() + *o.kill_after;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  } else {
    ::waitpid(pid, &status, 0);
  }
  child_result r;
  r.exited = WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.output = read_all(output_file);
  return r;
}

}  // namespace fault
