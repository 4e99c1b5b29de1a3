// LeaseClient over the generic client: kept apart from leader_election.cpp so
// that the elector's unit tests link without libcurl.
#include "runtime/client.h"
#include "runtime/leader_election.h"

namespace kube {
namespace {

const Resource& leases() {
  static const Resource r{"coordination.k8s.io", "v1", "leases", true, "Lease"};
  return r;
}

std::string namespaceOf(const nlohmann::json& lease) {
  return lease.at("metadata").value("namespace", std::string());
}

class ClientLeaseClient final : public LeaseClient {
 public:
  explicit ClientLeaseClient(RestConfig config)
      : owned_(std::make_unique<RestClient>(std::move(config))), client_(*owned_) {}
  explicit ClientLeaseClient(Client& client) : client_(client) {}

  std::optional<nlohmann::json> get(const std::string& ns, const std::string& name) override {
    try {
      return client_.get(leases(), ns, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }
  nlohmann::json create(const nlohmann::json& lease) override {
    return client_.create(leases(), namespaceOf(lease), lease);
  }
  nlohmann::json update(const nlohmann::json& lease) override {
    return client_.update(leases(), namespaceOf(lease), lease);
  }

 private:
  std::unique_ptr<Client> owned_;
  Client& client_;
};

}  // namespace

std::unique_ptr<LeaseClient> makeLeaseClient(const RestConfig& config,
                                             std::chrono::milliseconds requestTimeout) {
  RestConfig c = config;
  c.maxRetries = 0;
  c.timeout = requestTimeout;
  return std::make_unique<ClientLeaseClient>(std::move(c));
}

std::unique_ptr<LeaseClient> makeLeaseClient(Client& client) {
  return std::make_unique<ClientLeaseClient>(client);
}

}  // namespace kube
