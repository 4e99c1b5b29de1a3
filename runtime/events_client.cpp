// EventSink over the generic client: kept apart from events.cpp so that the
// recorder's unit tests link without libcurl.
#include "runtime/client.h"
#include "runtime/events.h"

namespace kube {
namespace {

const Resource& events() {
  static const Resource r{"", "v1", "events", true, "Event"};
  return r;
}

class ClientEventSink final : public EventSink {
 public:
  explicit ClientEventSink(Client& client) : client_(client) {}

  nlohmann::json create(const std::string& ns, const nlohmann::json& event) override {
    return client_.create(events(), ns, event);
  }
  nlohmann::json patch(const std::string& ns, const std::string& name,
                       const nlohmann::json& mergePatch) override {
    return client_.patch(events(), ns, name, PatchType::Merge, mergePatch);
  }

 private:
  Client& client_;
};

}  // namespace

std::unique_ptr<EventSink> makeEventSink(Client& client) {
  return std::make_unique<ClientEventSink>(client);
}

}  // namespace kube
