#include "runtime/health_server.h"

#include <atomic>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
};

Reply get(int port, const std::string& target, http::verb verb = http::verb::get) {
  boost::asio::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(
      tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http::request<http::empty_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

TEST(ParseBindAddress, AcceptsTheUsualForms) {
  auto a = kube::parseBindAddress(":8080", "--f");
  EXPECT_EQ(a.host, "");
  EXPECT_EQ(a.port, 8080);
  a = kube::parseBindAddress("127.0.0.1:0", "--f");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 0);
  a = kube::parseBindAddress("[::1]:9443", "--f");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 9443);
}

TEST(ParseBindAddress, RejectsOthersNamingFlagAndValue) {
  for (const std::string bad : {"", "8080", "host:", "host:http", ":65536", "::1:80", "[::1]80"}) {
    try {
      kube::parseBindAddress(bad, "--health-probe-bind-address");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--health-probe-bind-address=\"" + bad + "\""), std::string::npos)
          << what;
    }
  }
}

TEST(HealthServer, BadOrBusyAddressFailsClearly) {
  EXPECT_THROW(kube::HealthServer("nonsense", "--health-probe-bind-address"), std::runtime_error);
  kube::HealthServer first("127.0.0.1:0");
  try {
    kube::HealthServer second("127.0.0.1:" + std::to_string(first.port()), "--probe");
    FAIL() << "bound a busy port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--probe=\"127.0.0.1:"), std::string::npos) << e.what();
  }
  try {
    kube::HealthServer third("203.0.113.7:0", "--probe");  // not a local address
    FAIL() << "bound a foreign address";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen"), std::string::npos) << e.what();
  }
}

TEST(HealthServer, ServesHealthzAndReadyz) {
  kube::HealthServer s("127.0.0.1:0");
  ASSERT_GT(s.port(), 0);
  std::atomic<bool> synced{false};
  s.addHealthzCheck("ping", [] { return std::string(); });
  s.addReadyzCheck("informer configmaps", [&] {
    return synced ? std::string() : std::string("not synced; last error: connection refused");
  });
  s.start();

  auto r = get(s.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");

  r = get(s.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(
      r.body.find("[-]informer configmaps failed: not synced; last error: connection refused"),
      std::string::npos)
      << r.body;

  synced = true;
  r = get(s.port(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");

  r = get(s.port(), "/readyz?verbose");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("[+]informer configmaps ok"), std::string::npos) << r.body;

  EXPECT_EQ(get(s.port(), "/nope").status, 404);
  EXPECT_EQ(get(s.port(), "/healthz", http::verb::post).status, 405);
}

TEST(HealthServer, ChecksAddedWhileServingAndThrowingChecksFail) {
  kube::HealthServer s("127.0.0.1:0");
  s.start();
  EXPECT_EQ(get(s.port(), "/readyz").status, 200);
  s.addReadyzCheck("broken", []() -> std::string { throw std::runtime_error("oops"); });
  auto r = get(s.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("[-]broken failed: check threw: oops"), std::string::npos) << r.body;
}

TEST(HealthServer, StopReleasesThePort) {
  int port = 0;
  {
    kube::HealthServer s("127.0.0.1:0");
    s.start();
    port = s.port();
    EXPECT_EQ(get(port, "/healthz").status, 200);
    s.stop();
  }
  kube::HealthServer again("127.0.0.1:" + std::to_string(port));
  again.start();
  EXPECT_EQ(get(port, "/healthz").status, 200);
}

}  // namespace
