#include "tools/kubevirt-sim/ip_allocator.h"

#include <stdexcept>

#include "tools/kubevirt-sim/model.h"

namespace kubec2::sim {

namespace {
constexpr std::uint32_t kLoopbackLast = 0x7FFFFFFEu;  // 127.255.255.254
}

IpAllocator::IpAllocator(const std::string& start) {
  auto ip = parseIpv4(start);
  if (!ip || (*ip >> 24) != 127 || (*ip & 255u) == 0 || (*ip & 255u) == 255)
    throw std::invalid_argument("\"" + start +
                                "\" is not a usable loopback address (127.x.y.z, z not 0 or 255)");
  start_ = *ip;
  cursor_ = *ip;
}

bool IpAllocator::usable(std::uint32_t ip) const {
  return (ip >> 24) == 127 && ip >= start_ && ip <= kLoopbackLast && (ip & 255u) != 0 &&
         (ip & 255u) != 255;
}

std::optional<std::string> IpAllocator::allocate(const std::string& owner) {
  std::lock_guard l(mu_);
  if (auto it = byOwner_.find(owner); it != byOwner_.end()) return formatIpv4(it->second);
  const std::uint64_t span = static_cast<std::uint64_t>(kLoopbackLast) - start_ + 1;
  std::uint32_t ip = cursor_;
  for (std::uint64_t i = 0; i < span; ++i) {
    if (ip > kLoopbackLast || ip < start_) ip = start_;
    if (usable(ip) && !byIp_.count(ip)) {
      byIp_[ip] = owner;
      byOwner_[owner] = ip;
      cursor_ = ip + 1;
      return formatIpv4(ip);
    }
    ++ip;
  }
  return std::nullopt;
}

bool IpAllocator::reserve(const std::string& owner, const std::string& text) {
  auto ip = parseIpv4(text);
  if (!ip) return false;
  std::lock_guard l(mu_);
  if (!usable(*ip)) return false;
  if (auto it = byIp_.find(*ip); it != byIp_.end()) return it->second == owner && !owner.empty();
  if (auto it = byOwner_.find(owner); it != byOwner_.end()) {
    byIp_.erase(it->second);
    byOwner_.erase(it);
  }
  byIp_[*ip] = owner;
  byOwner_[owner] = *ip;
  return true;
}

void IpAllocator::release(const std::string& owner) {
  std::lock_guard l(mu_);
  auto it = byOwner_.find(owner);
  if (it == byOwner_.end()) return;
  byIp_.erase(it->second);
  byOwner_.erase(it);
}

void IpAllocator::block(const std::string& text) {
  auto ip = parseIpv4(text);
  if (!ip) return;
  std::lock_guard l(mu_);
  auto it = byIp_.find(*ip);
  if (it != byIp_.end() && !it->second.empty()) byOwner_.erase(it->second);
  byIp_[*ip] = "";
}

std::optional<std::string> IpAllocator::addressOf(const std::string& owner) const {
  std::lock_guard l(mu_);
  auto it = byOwner_.find(owner);
  if (it == byOwner_.end()) return std::nullopt;
  return formatIpv4(it->second);
}

std::size_t IpAllocator::inUse() const {
  std::lock_guard l(mu_);
  return byOwner_.size();
}

}  // namespace kubec2::sim
