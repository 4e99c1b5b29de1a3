// Loopback addresses for simulated VMIs: 127.x.y.z, handed out upward from a
// start address (127.1.0.1 by default), skipping .0 and .255, and never given
// to a second VMI while one holds it. On Linux the whole of 127.0.0.0/8
// reaches the loopback interface, so each VMI can listen on its own address
// on port 80 without any network setup.
//
// Allocation is next-fit: the search continues after the last address handed
// out and wraps around, so an address just freed is the last to be reused
// (a client still holding it is unlikely to reach the next VMI by mistake).
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace kubec2::sim {

class IpAllocator {
 public:
  // Throws std::invalid_argument unless `start` is a usable 127.x.y.z address.
  explicit IpAllocator(const std::string& start = "127.1.0.1");

  // The owner's address (the same one when it already holds one), or nullopt
  // when the range is exhausted.
  std::optional<std::string> allocate(const std::string& owner);
  // Gives `owner` this address if it is usable and free (or already the
  // owner's). A restarted simulator uses it to keep recorded addresses.
  bool reserve(const std::string& owner, const std::string& ip);
  // Frees the owner's address, if any.
  void release(const std::string& owner);
  // Never hands `ip` out again (something else on this host uses it).
  void block(const std::string& ip);

  std::optional<std::string> addressOf(const std::string& owner) const;
  std::size_t inUse() const;
  // 127.0.0.0/8, at or above the start, last octet neither 0 nor 255.
  bool usable(std::uint32_t ip) const;

 private:
  mutable std::mutex mu_;
  std::uint32_t start_;
  std::uint32_t cursor_;
  std::map<std::uint32_t, std::string> byIp_;  // blocked addresses have owner ""
  std::map<std::string, std::uint32_t> byOwner_;
};

}  // namespace kubec2::sim
