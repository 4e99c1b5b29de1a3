#include "tests/integration/control_plane.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>

#ifndef KUBEC2_SOURCE_DIR
#error "KUBEC2_SOURCE_DIR must name the source tree (target_compile_definitions)"
#endif

namespace kube::testing {
namespace {

std::string script() {
  return std::string(KUBEC2_SOURCE_DIR) + "/hack/local-cluster.sh";
}

// Single quotes for /bin/sh: nothing inside is special except the quote itself.
std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string command(const std::string& subcommand, const std::string& dir,
                    const std::vector<std::string>& args = {}) {
  std::string cmd = shellQuote(script()) + " " + subcommand + " " + shellQuote(dir);
  for (const auto& a : args) cmd += " " + shellQuote(a);
  return cmd;
}

std::string describeStatus(int status) {
  if (status == -1) return "could not be run";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "failed (status " + std::to_string(status) + ")";
}

bool succeeded(int status) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs `cmd`; its stderr (progress, and the failing log on errors) goes to
// ours. stdout goes to stderr too unless `out` is given to capture it.
void run(const std::string& cmd, std::string* out = nullptr) {
  int status = 0;
  if (out == nullptr) {
    status = std::system((cmd + " 1>&2").c_str());
  } else {
    out->clear();
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) throw std::runtime_error(cmd + ": popen failed");
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    status = ::pclose(p);
  }
  if (!succeeded(status)) throw std::runtime_error(cmd + " " + describeStatus(status));
}

std::string makeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kubec2-cp-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + " failed");
  return tmpl;
}

ControlPlane* gEnvironmentPlane = nullptr;  // set between SetUp and TearDown

}  // namespace

ControlPlane& ControlPlane::start(const ControlPlaneOptions& options) {
  // Never destroyed before exit; the destructor stops a plane left running.
  static ControlPlane plane;
  std::lock_guard lock(plane.mu_);
  if (plane.running_) {
    if (plane.options_.watchCache != options.watchCache || plane.options_.crds != options.crds ||
        plane.options_.extraControllers != options.extraControllers ||
        plane.options_.auditPolicy != options.auditPolicy ||
        plane.options_.apiServerFlags != options.apiServerFlags)
      throw std::logic_error("ControlPlane::start: already running with other options");
    return plane;
  }
  std::string dir = makeTempDir();
  std::vector<std::string> args = {"--parent-pid", std::to_string(::getpid())};
  if (!options.watchCache) args.emplace_back("--watch-cache=false");
  if (!options.extraControllers.empty()) {
    std::string list;
    for (const auto& c : options.extraControllers) list += (list.empty() ? "" : ",") + c;
    args.push_back("--extra-controllers=" + list);
  }
  if (!options.auditPolicy.empty()) args.push_back("--audit-policy=" + options.auditPolicy);
  for (const auto& flag : options.apiServerFlags) {
    args.emplace_back("--apiserver-flag");
    args.push_back(flag);
  }
  for (const auto& crd : options.crds) {
    args.emplace_back("--crd");
    args.push_back(crd);
  }
  std::string out;
  try {
    run(command("up", dir, args), &out);  // prints the folder on success
  } catch (const std::exception& first) {
    // A rare failed start on these shared machines (docs/reliability.md,
    // "The local control plane's starts"): one cause was found and fixed in
    // local-cluster.sh (a server taken for exited while it was in execve);
    // whether it was the only one is not proven, and a start can still time
    // out on an overloaded machine. One retry in a new folder, saying so,
    // rather than a whole test binary lost; the script's report above says
    // why the first start failed, and a second failure is reported as it is.
    std::fprintf(stderr, "control plane: start failed (%s); retrying once\n", first.what());
    dir = makeTempDir();
    run(command("up", dir, args), &out);
  }
  plane.dir_ = dir;
  plane.options_ = options;
  plane.running_ = true;
  return plane;
}

ControlPlane::~ControlPlane() {
  try {
    stop();
  } catch (...) {  // at exit: the watchdog stops the servers anyway
  }
}

std::string ControlPlane::kubeconfig() const {
  std::lock_guard lock(mu_);
  requireRunning("kubeconfig");
  return dir_ + "/kubeconfig";
}

std::string ControlPlane::dir() const {
  std::lock_guard lock(mu_);
  return dir_;
}

bool ControlPlane::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void ControlPlane::requireRunning(const char* what) const {
  if (!running_) throw std::logic_error(std::string("ControlPlane::") + what + ": not running");
}

void ControlPlane::restartApiServer() {
  std::lock_guard lock(mu_);
  requireRunning("restartApiServer");
  run(command("restart-apiserver", dir_));
}

void ControlPlane::restartEtcd() {
  std::lock_guard lock(mu_);
  requireRunning("restartEtcd");
  run(command("restart-etcd", dir_));
}

long ControlPlane::compactEtcd() {
  std::lock_guard lock(mu_);
  requireRunning("compactEtcd");
  std::string out;
  run(command("compact", dir_), &out);
  try {
    return std::stol(out);
  } catch (const std::exception&) {
    throw std::runtime_error("local-cluster.sh compact printed \"" + out + "\", not a revision");
  }
}

void ControlPlane::installCrds(const std::vector<std::string>& files) {
  if (files.empty()) return;
  std::lock_guard lock(mu_);
  requireRunning("installCrds");
  run(command("install-crds", dir_, files));
}

void ControlPlane::stop() {
  std::lock_guard lock(mu_);
  if (!running_) return;
  running_ = false;
  run(command("down", dir_));
}

void ControlPlaneEnvironment::SetUp() {
  try {
    gEnvironmentPlane = &ControlPlane::start(options_);
  } catch (const std::exception& e) {
    GTEST_FAIL() << "cannot start the control plane: " << e.what();
  }
}

void ControlPlaneEnvironment::TearDown() {
  if (gEnvironmentPlane == nullptr) return;
  ControlPlane* plane = gEnvironmentPlane;
  gEnvironmentPlane = nullptr;
  try {
    plane->stop();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stopping the control plane: " << e.what();
  }
}

ControlPlane& ControlPlaneEnvironment::get() {
  if (gEnvironmentPlane == nullptr)
    throw std::logic_error(
        "ControlPlaneEnvironment::get: no control plane (add a ControlPlaneEnvironment in main)");
  return *gEnvironmentPlane;
}

std::string uniqueNamespaceName(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  std::string name;
  for (char c : prefix) {
    unsigned char u = static_cast<unsigned char>(c);
    name += std::isalnum(u) != 0 ? static_cast<char>(std::tolower(u)) : '-';
    if (name.size() == 40) break;
  }
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.empty()) name = "test";

  thread_local std::mt19937 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += kAlphabet[pick(rng)];
  return name + "-" + std::to_string(++counter) + "-" + suffix;
}

}  // namespace kube::testing
