// The instance type catalog: EC2 type names (t3.micro, m5.large, ...) to
// vCPUs and memory, so that an Instance's spec.instanceType becomes the VM's
// CPU and memory. Built-in families, plus a ConfigMap that adds or overrides
// types (docs/instances.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kubec2::reconcilers {

struct InstanceTypeInfo {
  std::string name;  // m5.large
  std::int64_t vCPU = 0;
  std::int64_t memoryMiB = 0;
  std::int64_t gpus = 0;  // GPU family only
  bool operator==(const InstanceTypeInfo&) const = default;
};

class InstanceTypeCatalog {
 public:
  // The built-in families with EC2's sizes and figures: t3 (nano..2xlarge),
  // m5, m6i, c5, c6i, r5, r6i (large..24xlarge where EC2 has them), i3
  // (large..16xlarge), and a GPU family g5 (xlarge..48xlarge... as EC2).
  static const InstanceTypeCatalog& builtIn();

  // This catalog with a ConfigMap's data applied: each key a type name
  // (the schema's pattern: family.size), each value a YAML or JSON mapping
  // {vCPU: 4, memory: 16Gi, gpus: 0}; memory takes Kubernetes quantities
  // (Mi, Gi, M, G, plain bytes). A bad entry is skipped and described in
  // `problems` ("m9.huge: memory: ..."), never thrown.
  InstanceTypeCatalog withOverrides(const std::map<std::string, std::string>& data,
                                    std::vector<std::string>& problems) const;

  // nullptr when unknown.
  const InstanceTypeInfo* find(const std::string& name) const;
  std::size_t size() const { return types_.size(); }
  // Every name, grouped by family (the part before the dot, in name order),
  // each family from its smallest size up (vCPU, then memory): m5.large,
  // m5.xlarge, m5.2xlarge, ... as EC2's documentation lists them.
  std::vector<std::string> namesBySize() const;

 private:
  std::map<std::string, InstanceTypeInfo> types_;
};

}  // namespace kubec2::reconcilers
