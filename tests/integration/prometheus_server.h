// A real Prometheus server (Debian's prometheus, ../shared/docs/
// dependencies.md) for the scaling tests: scrapes the targets the test adds
// (file-based service discovery, re-read within a second) every second,
// and can be stopped by pid and started again on the same port and data,
// as an outage and its recovery look to the operator. Days of history can be
// backfilled into its TSDB before it starts (promtool, as ../shared/docs/
// dependencies.md "History for predictive scaling tests" describes).
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/http.h"

namespace kube::testing {

class PrometheusServer {
 public:
  // `dir` holds the configuration, the targets and the TSDB (created).
  PrometheusServer(int port, std::string dir) : port_(port), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ + "/targets");
    std::filesystem::create_directories(dir_ + "/data");
    std::ofstream(dir_ + "/prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           "scrape_configs:\n"
           "  - job_name: kubevirt\n"
           "    honor_labels: true\n"
           "    scrape_interval: 1s\n"
           "    file_sd_configs: [{files: ['"
        << dir_ << "/targets/*.json'], refresh_interval: 1s}]\n";
  }
  ~PrometheusServer() { stop(); }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Adds a scrape target ("127.0.0.1:PORT", serving /metrics).
  void addTarget(const std::string& name, const std::string& hostPort) {
    const std::string tmp = dir_ + "/targets/." + name + ".json";
    std::ofstream(tmp) << "[{\"targets\": [\"" << hostPort << "\"]}]\n";
    std::filesystem::rename(tmp, dir_ + "/targets/" + name + ".json");
  }

  // Writes `openMetrics` (OpenMetrics text: `name{labels} value
  // unix_seconds` lines, ending with `# EOF`) into the TSDB as blocks with
  // `promtool tsdb create-blocks-from openmetrics`; call before start().
  // Throws when promtool fails.
  void backfill(const std::string& openMetrics) {
    if (process_) throw std::logic_error("backfill before start()");
    const std::string in = dir_ + "/backfill.om";
    std::ofstream(in) << openMetrics;
    ChildProcess promtool(
        {"/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", in, dir_ + "/data"},
        dir_ + "/promtool.log");
    const auto rc = promtool.wait(std::chrono::seconds(120));
    if (!rc || *rc != 0)
      throw std::runtime_error("promtool tsdb create-blocks-from failed:\n" + promtool.output());
  }

  // Starts the server and waits until it answers /-/ready (throws after 30 s).
  void start() {
    if (process_) return;
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir_ + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--log.level=warn"},
        dir_ + "/prometheus.log");
    if (!eventually([&] { return http("GET", url() + "/-/ready", "").first == 200; },
                    std::chrono::seconds(30)))
      throw std::runtime_error("Prometheus did not become ready within 30 s:\n" +
                               process_->output());
  }

  // Stops it by pid (SIGTERM, then waits), as `kill` would.
  void stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    process_->wait(std::chrono::seconds(30));
    process_.reset();
  }

  std::string log() const { return process_ ? process_->output() : ""; }

 private:
  int port_;
  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace kube::testing
