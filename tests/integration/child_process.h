// Runs a program the way a user or a kubelet would, for tests of the
// operator binary: arguments, output to a file, signals, exit status with a
// deadline (a hang fails the test instead of blocking it).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kube::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with stdout and stderr both appended to `logFile`.
  ChildProcess(const std::vector<std::string>& argv, std::string logFile)
      : log_(std::move(logFile)) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      // The test binary may block signals; the child starts with none blocked.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (!code_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Once the process has been waited for, its pid may be another's: no-op.
  void signal(int sig) const {
    if (!code_) ::kill(pid_, sig);
  }
  pid_t pid() const { return pid_; }

  // The exit code once the process exits (128 + N when killed by signal N),
  // or nullopt if it is still running after `timeout`. Again after the exit:
  // the same code at once.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (code_) return code_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string output() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> code_;  // once waited for
};

}  // namespace kube::testing
