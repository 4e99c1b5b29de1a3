#include "reconcilers/instance/virtual_machine.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "runtime/base64.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

constexpr const char* kApiVersion = "compute.kubec2.io/v1alpha1";
constexpr const char* kManagedByValue = "kubec2";
constexpr std::string_view kReservedLabelPrefix = "compute.kubec2.io/";
constexpr std::int64_t kDefaultRootGiB = 10;
constexpr std::int64_t kMaxPortsPerRule = 100;

// ------------------------------------------------------------- labels

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A label name or value: at most 63 of [A-Za-z0-9._-], beginning and ending
// alphanumeric (a value may also be empty).
bool validLabelName(std::string_view s, bool allowEmpty) {
  if (s.empty()) return allowEmpty;
  if (s.size() > 63 || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS subdomain: at most 253 characters, dot-separated labels of
// lowercase alphanumerics and '-', each beginning and ending alphanumeric.
bool validDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view part =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 63) return false;
    for (char c : part)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    if (part.front() == '-' || part.back() == '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool validLabelKey(std::string_view key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) return validLabelName(key, false);
  return validDnsSubdomain(key.substr(0, slash)) && validLabelName(key.substr(slash + 1), false);
}

// The kubec2 labels of an Instance's objects.
std::map<std::string, std::string> kubec2Labels(const v1::Instance& inst) {
  std::map<std::string, std::string> l;
  l[kInstanceLabel] = inst.metadata.name;
  const auto sg = inst.metadata.labels.find(kScalingGroupLabel);
  if (sg != inst.metadata.labels.end()) l[kScalingGroupLabel] = sg->second;
  l[kManagedByLabel] = kManagedByValue;
  return l;
}

// Tags that are valid labels, the Instance's labels over them, then the
// kubec2 labels over both. Tags under
// compute.kubec2.io/ are skipped altogether, not only on the keys kubec2
// writes: that prefix is the operator's, and a tag must not make an
// Instance look like a scaling group's member.
json vmLabels(const v1::Instance& inst, const v1::LaunchSpec& launch) {
  json labels = json::object();
  if (launch.tags) {
    for (const auto& [k, v] : *launch.tags) {
      if (std::string_view(k).substr(0, kReservedLabelPrefix.size()) == kReservedLabelPrefix)
        continue;
      if (validLabelKey(k) && validLabelName(v, true)) labels[k] = v;
    }
  }
  // The Instance's own labels, so that instanceSelector sources and load
  // balancers select its pod by them (api: SecurityGroupSource).
  for (const auto& [k, v] : inst.metadata.labels) {
    if (std::string_view(k).substr(0, kReservedLabelPrefix.size()) == kReservedLabelPrefix)
      continue;
    labels[k] = v;
  }
  for (const auto& [k, v] : kubec2Labels(inst)) labels[k] = v;
  return labels;
}

json ownerReference(const v1::Instance& inst) {
  return json{{"apiVersion", kApiVersion}, {"kind", "Instance"}, {"name", inst.metadata.name},
              {"uid", inst.metadata.uid},  {"controller", true}, {"blockOwnerDeletion", true}};
}

// ------------------------------------------------------------- cloud-init

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string_view firstLine(std::string_view s) {
  const auto nl = s.find('\n');
  std::string_view line = s.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Each value may hold several authorized_keys lines: one key per non-empty,
// non-comment line, first occurrence kept.
std::vector<std::string> splitKeys(const std::vector<std::string>& values) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const std::string& v : values) {
    std::size_t start = 0;
    while (start <= v.size()) {
      const std::size_t nl = v.find('\n', start);
      const std::string line = trim(std::string_view(v).substr(
          start, nl == std::string::npos ? std::string::npos : nl - start));
      if (!line.empty() && line[0] != '#' && seen.insert(line).second) keys.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  return keys;
}

// A string yaml-cpp can write as a literal block (`|`) that reads back as
// the same string: one trailing newline (clip chomping), no leading space
// or newline (those need an indentation indicator), no carriage return or
// other control characters.
bool literalSafe(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\n' || s.front() == '\t') return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  // Trailing spaces on a line or a line of only spaces would be written in
  // ways that do not round-trip reliably.
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i + 1] == '\n' && (s[i] == ' ' || s[i] == '\t')) return false;
  return true;
}

// Writes a loaded YAML node back. yaml-cpp forgets how a scalar was quoted,
// and its own emitter would write a quoted "yes" or "0755" plain, which
// cloud-init (PyYAML, YAML 1.1) then reads as a boolean or an octal number.
// So scalars the user quoted or wrote as blocks (tag "!") are written
// double-quoted, or as a literal block when they are multi-line and that
// round-trips; plain scalars stay plain, exactly as written. Collections
// are written in block style; comments are lost.
void emitNode(YAML::Emitter& out, const YAML::Node& n) {
  const std::string& tag = n.Tag();
  const bool explicitTag = !tag.empty() && tag != "?" && tag != "!";
  switch (n.Type()) {
    case YAML::NodeType::Map:
      if (explicitTag) out << YAML::VerbatimTag(tag);
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emitNode(out, kv.first);
        out << YAML::Value;
        emitNode(out, kv.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      if (explicitTag) out << YAML::VerbatimTag(tag);
      out << YAML::BeginSeq;
      for (const auto& e : n) emitNode(out, e);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      if (explicitTag) out << YAML::VerbatimTag(tag);
      if (tag == "!" || explicitTag) {
        if (n.Scalar().find('\n') != std::string::npos && literalSafe(n.Scalar()))
          // yaml-cpp writes `|` (clip chomping) and a line break of its
          // own after the text, which gives back the one trailing newline.
          out << YAML::Literal << n.Scalar().substr(0, n.Scalar().size() - 1);
        else
          out << YAML::DoubleQuoted << n.Scalar();
      } else {
        out << n.Scalar();
      }
      return;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      return;
  }
}

std::string keysCloudConfig(const std::vector<std::string>& keys) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "ssh_authorized_keys" << YAML::Value << YAML::BeginSeq;
  for (const std::string& k : keys) out << k;
  out << YAML::EndSeq << YAML::EndMap;
  return std::string("#cloud-config\n") + out.c_str() + "\n";
}

// The user's #cloud-config with the keys added to ssh_authorized_keys;
// nullopt when it is not a YAML mapping this can merge into.
std::optional<std::string> mergeCloudConfig(const std::string& userData,
                                            const std::vector<std::string>& keys) {
  YAML::Node doc;
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(userData);
    if (docs.size() > 1) return std::nullopt;
    if (!docs.empty()) doc = docs[0];
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  if (!doc.IsDefined() || doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);
  if (!doc.IsMap()) return std::nullopt;

  YAML::Node list = doc["ssh_authorized_keys"];
  std::set<std::string> present;
  if (!list.IsDefined() || list.IsNull()) {
    list = YAML::Node(YAML::NodeType::Sequence);
  } else if (list.IsScalar()) {
    const std::string one = list.Scalar();
    list = YAML::Node(YAML::NodeType::Sequence);
    list.push_back(one);
  } else if (!list.IsSequence()) {
    return std::nullopt;
  }
  for (const auto& e : list)
    if (e.IsScalar()) present.insert(trim(e.Scalar()));
  for (const std::string& k : keys)
    if (present.insert(k).second) list.push_back(k);
  doc["ssh_authorized_keys"] = list;

  YAML::Emitter out;
  emitNode(out, doc);
  if (!out.good()) return std::nullopt;
  return std::string("#cloud-config\n") + out.c_str() + "\n";
}

// The MIME type cloud-init gives user data by its first line (cloud-init's
// INCLUSION_TYPES_MAP), for the part holding the user's data as it is.
std::string mimeTypeOf(std::string_view data) {
  static const std::pair<std::string_view, std::string_view> kStarts[] = {
      {"#!", "text/x-shellscript"},
      {"#include-once", "text/x-include-once-url"},
      {"#include", "text/x-include-url"},
      {"#cloud-config-archive", "text/cloud-config-archive"},
      {"#cloud-config-jsonp", "text/cloud-config-jsonp"},
      {"#cloud-config", "text/cloud-config"},
      {"#cloud-boothook", "text/cloud-boothook"},
      {"#upstart-job", "text/upstart-job"},
      {"#part-handler", "text/part-handler"},
      {"## template: jinja", "text/jinja2"},
  };
  for (const auto& [start, type] : kStarts)
    if (startsWith(data, start)) return std::string(type);
  return "text/plain";  // cloud-init ignores it, as it would unwrapped
}

bool isMime(std::string_view data) {
  // A MIME message starts with headers; cloud-init recognizes it by its
  // Content-Type header.
  std::string head(data.substr(0, 64));
  std::transform(head.begin(), head.end(), head.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return startsWith(head, "content-type:") || startsWith(head, "mime-version:");
}

bool isAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A multipart/mixed message: a text/cloud-config part with the keys, then
// the user's data unchanged (a MIME message nested as it is: cloud-init
// walks nested multiparts). The boundary is fixed, made unique against the
// user's data, so that the output is deterministic.
std::string multipart(const std::string& userData, const std::vector<std::string>& keys) {
  std::string boundary = "==kubec2-cloud-init==";
  for (int n = 1; userData.find(boundary) != std::string::npos; ++n)
    boundary = "==kubec2-cloud-init-" + std::to_string(n) + "==";
  std::string m;
  m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n";
  m += "MIME-Version: 1.0\n\n";
  m += "--" + boundary + "\n";
  m += "Content-Type: text/cloud-config; charset=\"us-ascii\"\n";
  m += "MIME-Version: 1.0\n";
  m += "Content-Transfer-Encoding: 7bit\n";
  m += "Content-Disposition: attachment; filename=\"kubec2-ssh-keys.cfg\"\n\n";
  m += keysCloudConfig(keys);
  m += "\n--" + boundary + "\n";
  if (isMime(userData)) {
    m += userData;
  } else {
    const bool ascii = isAscii(userData);
    m += "Content-Type: " + mimeTypeOf(userData) + "; charset=\"" + (ascii ? "us-ascii" : "utf-8") +
         "\"\n";
    m += "MIME-Version: 1.0\n";
    m += std::string("Content-Transfer-Encoding: ") + (ascii ? "7bit" : "8bit") + "\n";
    m += "Content-Disposition: attachment; filename=\"user-data\"\n\n";
    m += userData;
  }
  if (userData.empty() || userData.back() != '\n') m += "\n";
  m += "--" + boundary + "--\n";
  return m;
}

bool validUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80)
      n = 0;
    else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
      n = 1;
    else if ((c & 0xF0) == 0xE0)
      n = 2;
    else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
      n = 3;
    else
      return false;
    if (i + n >= s.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n + 1;
  }
  return true;
}

// ------------------------------------------------------------- VM parts

std::string gi(std::int64_t g) {
  return std::to_string(g) + "Gi";
}

json dataVolumeTemplate(const std::string& name, const json& labels, json source,
                        std::optional<std::int64_t> sizeGiB,
                        const std::optional<std::string>& storageClass) {
  json storage = json::object();
  if (sizeGiB) storage["resources"] = {{"requests", {{"storage", gi(*sizeGiB)}}}};
  if (storageClass) storage["storageClassName"] = *storageClass;
  return json{{"metadata", {{"name", name}, {"labels", labels}}},
              {"spec", {{"source", std::move(source)}, {"storage", std::move(storage)}}}};
}

json virtioDisk(const std::string& name) {
  return json{{"name", name}, {"disk", {{"bus", "virtio"}}}};
}

}  // namespace

std::optional<std::string> renderCloudInit(const std::optional<std::string>& userData,
                                           const std::vector<std::string>& sshPublicKeys) {
  const std::vector<std::string> keys = splitKeys(sshPublicKeys);
  const bool hasUserData = userData && !trim(*userData).empty();
  if (!hasUserData) {
    if (keys.empty()) return std::nullopt;
    return keysCloudConfig(keys);
  }
  if (keys.empty()) return *userData;  // nothing to add: the user's data as written
  if (trim(firstLine(*userData)) == "#cloud-config") {
    if (auto merged = mergeCloudConfig(*userData, keys)) return merged;
    // Not a mapping (or not YAML): pass it on unchanged beside the keys, so
    // that the keys still work and cloud-init reports the user's error.
  }
  return multipart(*userData, keys);
}

json renderVirtualMachine(const VmInputs& in) {
  if (in.instance == nullptr || in.launch == nullptr)
    throw std::invalid_argument("renderVirtualMachine: instance and launch are required");
  const v1::Instance& inst = *in.instance;
  const v1::LaunchSpec& launch = in.launch->spec;
  if (!launch.image) throw std::invalid_argument("renderVirtualMachine: the launch has no image");
  const std::string& name = inst.metadata.name;
  const std::string& ns = inst.metadata.namespace_;
  const json labels = vmLabels(inst, launch);
  const json volumeLabels = [&] {
    json l = json::object();
    for (const auto& [k, v] : kubec2Labels(inst)) l[k] = v;
    return l;
  }();

  json metadata = {{"name", name},
                   {"namespace", ns},
                   {"labels", labels},
                   {"ownerReferences", json::array({ownerReference(inst)})}};
  if (in.launch->templateVersion)
    metadata["annotations"] = {
        {kLaunchTemplateVersionAnnotation, std::to_string(*in.launch->templateVersion)}};

  // Root disk: a container disk, or a DataVolume imported or cloned into a
  // claim named INSTANCE-root.
  json dataVolumeTemplates = json::array();
  json volumes = json::array();
  json disks = json::array();
  const v1::ImageSource& image = *launch.image;
  const std::optional<v1::RootVolume> root = launch.volumes ? launch.volumes->root : std::nullopt;
  const std::optional<std::string> rootClass = root ? root->storageClassName : std::nullopt;
  const std::optional<std::int64_t> rootSize = root ? root->sizeGiB : std::nullopt;
  json rootDisk = virtioDisk("root");
  rootDisk["bootOrder"] = 1;
  disks.push_back(rootDisk);
  if (image.containerDisk) {
    volumes.push_back({{"name", "root"}, {"containerDisk", {{"image", *image.containerDisk}}}});
  } else {
    const std::string dv = name + "-root";
    if (image.http) {
      dataVolumeTemplates.push_back(
          dataVolumeTemplate(dv, volumeLabels, {{"http", {{"url", *image.http}}}},
                             rootSize.value_or(kDefaultRootGiB), rootClass));
    } else if (image.registry) {
      dataVolumeTemplates.push_back(
          dataVolumeTemplate(dv, volumeLabels, {{"registry", {{"url", *image.registry}}}},
                             rootSize.value_or(kDefaultRootGiB), rootClass));
    } else if (image.pvc) {
      // No size: CDI sizes a clone from its source claim.
      dataVolumeTemplates.push_back(dataVolumeTemplate(
          dv, volumeLabels, {{"pvc", {{"namespace", ns}, {"name", image.pvc->name}}}}, rootSize,
          rootClass));
    } else {
      throw std::invalid_argument("renderVirtualMachine: the image sets no source");
    }
    volumes.push_back({{"name", "root"}, {"dataVolume", {{"name", dv}}}});
  }

  // Extra volumes, blank, after the root disk in their order.
  if (launch.volumes && launch.volumes->extra) {
    for (const v1::ExtraVolume& v : *launch.volumes->extra) {
      const std::string dv = name + "-" + v.name;
      dataVolumeTemplates.push_back(dataVolumeTemplate(
          dv, volumeLabels, {{"blank", json::object()}}, v.sizeGiB, v.storageClassName));
      disks.push_back(virtioDisk(v.name));
      volumes.push_back({{"name", v.name}, {"dataVolume", {{"name", dv}}}});
    }
  }

  // cloud-init. Kept inline in the VM even when large: KubeVirt suggests a
  // Secret (cloudInitNoCloud.secretRef) above 2048 bytes, which the
  // operator could write later; user data is at most 16 KiB here. Data
  // that is not UTF-8 (gzip, say) cannot be a JSON string and goes base64.
  if (const auto cloudInit = renderCloudInit(in.userData, in.sshPublicKeys)) {
    json noCloud = validUtf8(*cloudInit) ? json{{"userData", *cloudInit}}
                                         : json{{"userDataBase64", kube::base64Encode(*cloudInit)}};
    disks.push_back(virtioDisk("cloudinit"));
    volumes.push_back({{"name", "cloudinit"}, {"cloudInitNoCloud", std::move(noCloud)}});
  }

  const std::string memory = std::to_string(in.type.memoryMiB) + "Mi";
  json domain = {
      {"cpu", {{"cores", in.type.vCPU}, {"sockets", 1}, {"threads", 1}}},
      {"memory", {{"guest", memory}}},
      {"resources", {{"requests", {{"memory", memory}}}}},
      {"devices",
       {{"disks", std::move(disks)},
        {"interfaces", json::array({{{"name", "default"}, {"masquerade", json::object()}}})}}}};
  // GPUs (in.type.gpus) are not rendered: KubeVirt's devices.gpus needs a
  // deviceName, the resource name the cluster's device plugin advertises
  // (nvidia.com/GA102GL_A10 and the like), which the catalog cannot know.
  // Not yet reported on the Instance either (docs/instances.md says so).

  json templSpec = {{"domain", std::move(domain)},
                    {"networks", json::array({{{"name", "default"}, {"pod", json::object()}}})},
                    {"volumes", std::move(volumes)}};
  if (launch.availabilityZone) {
    templSpec["affinity"] = {
        {"nodeAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution",
           {{"nodeSelectorTerms",
             json::array(
                 {{{"matchExpressions",
                    json::array({{{"key", "topology.kubernetes.io/zone"},
                                  {"operator", "In"},
                                  {"values", json::array({*launch.availabilityZone})}}})}}})}}}}}};
  }

  json spec = {{"runStrategy",
                inst.spec.desiredState.value_or("running") == "stopped" ? "Halted" : "Always"},
               {"template", {{"metadata", {{"labels", labels}}}, {"spec", std::move(templSpec)}}}};
  if (!dataVolumeTemplates.empty()) spec["dataVolumeTemplates"] = std::move(dataVolumeTemplates);

  return json{{"apiVersion", "kubevirt.io/v1"},
              {"kind", "VirtualMachine"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
}

// instanceSelector sources become podSelector peers with the selector as
// the user wrote it. Pods of VMs carry the VM template's labels (KubeVirt
// copies them to the VMI and its virt-launcher pod): the Instance's
// metadata.labels, its tags that are valid labels and the kubec2 labels
// (vmLabels), so a selector matches instances by their labels, as the API
// describes, and, as with any podSelector, any other pod of the namespace
// with those labels.
std::optional<json> renderNetworkPolicy(const v1::Instance& instance,
                                        const v1::LaunchSpec& launch) {
  if (!launch.securityGroups) return std::nullopt;
  const std::string& name = instance.metadata.name;

  json ingress = json::array();
  std::vector<std::string> truncated;
  for (const v1::SecurityGroup& group : *launch.securityGroups) {
    if (!group.ingress) continue;
    for (std::size_t i = 0; i < group.ingress->size(); ++i) {
      const v1::SecurityGroupRule& rule = (*group.ingress)[i];
      const std::string ruleName = group.name + ".ingress[" + std::to_string(i) + "]";
      // A NetworkPolicy rule without `from` allows every source: a rule
      // without sources must allow nothing, so it is left out.
      json from = json::array();
      for (const v1::SecurityGroupSource& s : rule.sources) {
        if (s.cidr)
          from.push_back({{"ipBlock", {{"cidr", *s.cidr}}}});
        else if (s.instanceSelector)
          from.push_back({{"podSelector", s.instanceSelector->toJson()}});
      }
      if (from.empty()) continue;
      json r = {{"from", std::move(from)}};

      const std::string protocol = rule.protocol.value_or("tcp");
      if (protocol != "all") {
        std::string upper = protocol;
        std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
          return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        });
        json ports = json::array();
        if (!rule.fromPort) {
          ports.push_back({{"protocol", upper}});  // every port of the protocol
        } else {
          const std::int64_t first = *rule.fromPort;
          const std::int64_t last = rule.toPort.value_or(first);
          if (last < first) {
            truncated.push_back(ruleName + ": toPort " + std::to_string(last) + " below fromPort " +
                                std::to_string(first) + ", not written");
            continue;
          }
          const std::int64_t written = std::min(last, first + kMaxPortsPerRule - 1);
          for (std::int64_t p = first; p <= written; ++p)
            ports.push_back({{"protocol", upper}, {"port", p}});
          if (written < last)
            truncated.push_back(ruleName + ": ports " + std::to_string(first) + "-" +
                                std::to_string(last) + ", only " + std::to_string(first) + "-" +
                                std::to_string(written) + " written");
        }
        r["ports"] = std::move(ports);
      }
      ingress.push_back(std::move(r));
    }
  }

  json labels = json::object();
  for (const auto& [k, v] : kubec2Labels(instance)) labels[k] = v;
  json metadata = {{"name", name + "-sg"},
                   {"namespace", instance.metadata.namespace_},
                   {"labels", std::move(labels)},
                   {"ownerReferences", json::array({ownerReference(instance)})}};
  if (!truncated.empty()) {
    std::string value;
    for (const std::string& t : truncated) value += (value.empty() ? "" : "; ") + t;
    metadata["annotations"] = {{kTruncatedRulesAnnotation, value}};
  }
  return json{{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "NetworkPolicy"},
              {"metadata", std::move(metadata)},
              {"spec",
               {{"podSelector", {{"matchLabels", {{kInstanceLabel, name}}}}},
                {"policyTypes", json::array({"Ingress"})},
                {"ingress", std::move(ingress)}}}};
}

}  // namespace kubec2::reconcilers
