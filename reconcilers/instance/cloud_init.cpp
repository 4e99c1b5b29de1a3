#include "reconcilers/instance/cloud_init.h"

#include <algorithm>
#include <set>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "api/well_known.h"
#include "runtime/base64.h"
#include "runtime/finalizers.h"
#include "runtime/strings.h"

namespace kubec2::reconcilers {
namespace {

using kube::startsWith;
using kube::trim;
using nlohmann::json;

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

}  // namespace

std::vector<std::string> authorizedKeys(const std::vector<std::string>& values) {
  return splitKeys(values);
}

std::vector<SecretNeed> secretsOf(const v1::LaunchSpec& launch) {
  std::vector<SecretNeed> out;
  if (launch.keyPair) out.push_back({launch.keyPair->secretName, launch.keyPair->key, true});
  if (launch.userData && launch.userData->secretRef)
    out.push_back({launch.userData->secretRef->name,
                   launch.userData->secretRef->key.value_or("userdata"), false});
  return out;
}

CloudInitInputs cloudInitInputs(const v1::LaunchSpec& launch,
                                const std::map<std::string, SecretData>& secrets,
                                const std::string& ns) {
  CloudInitInputs in;
  if (launch.userData && launch.userData->inline_) in.userData = launch.userData->inline_;
  std::vector<std::string> keyValues;
  for (const SecretNeed& need : secretsOf(launch)) {
    in.fromSecret = true;
    const std::string field = need.keyPair ? "keyPair" : "userData.secretRef";
    const auto it = secrets.find(need.name);
    if (it == secrets.end() || !it->second) {
      in.problem = "Secret \"" + need.name + "\" (" + field + ") not found in namespace " + ns;
      return in;
    }
    const auto& data = *it->second;
    if (need.key) {
      const auto v = data.find(*need.key);
      if (v == data.end()) {
        in.problem =
            "Secret \"" + need.name + "\" (" + field + ") has no key \"" + *need.key + "\"";
        return in;
      }
      if (need.keyPair) {
        keyValues.push_back(v->second);
      } else if (v->second.size() > kMaxUserDataBytes) {
        in.problem = "Secret \"" + need.name + "\" (" + field + ") key \"" + *need.key +
                     "\" holds " + std::to_string(v->second.size()) +
                     " bytes of user data; the limit is " + std::to_string(kMaxUserDataBytes) +
                     " bytes, as EC2's";
        in.problemReason = "UserDataTooLarge";
        return in;
      } else {
        in.userData = v->second;
      }
    } else {
      for (const auto& [k, v] : data) keyValues.push_back(v);
    }
    if (need.keyPair) {
      in.sshPublicKeys = splitKeys(keyValues);
      if (in.sshPublicKeys.empty()) {
        in.problem = "Secret \"" + need.name + "\" (keyPair) holds no SSH public key";
        return in;
      }
    }
  }
  return in;
}

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

std::string cloudInitSecretName(const std::string& instanceName) {
  return instanceName + "-cloud-init";
}

json renderCloudInitSecret(const v1::Instance& instance, const std::string& document) {
  json owner = kube::controllerOwnerRef(api::kApiVersion, "Instance", instance.metadata.name,
                                        instance.metadata.uid);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", cloudInitSecretName(instance.metadata.name)},
            {"namespace", instance.metadata.namespace_},
            {"labels",
             {{api::kInstanceLabel, instance.metadata.name},
              {api::kManagedByLabel, api::kManagedByValue}}},
            {"ownerReferences", json::array({owner})}}},
          {"type", "Opaque"},
          {"data", {{"userdata", kube::base64Encode(document)}}}};
}

json cloudInitVolume(const v1::Instance& instance, const std::string& document, bool inSecret) {
  json noCloud;
  if (inSecret)
    noCloud = {{"secretRef", {{"name", cloudInitSecretName(instance.metadata.name)}}}};
  else if (validUtf8(document))
    noCloud = {{"userData", document}};
  else  // not UTF-8 (gzip, say): cannot be a JSON string
    noCloud = {{"userDataBase64", kube::base64Encode(document)}};
  return {{"name", "cloudinit"}, {"cloudInitNoCloud", std::move(noCloud)}};
}

}  // namespace kubec2::reconcilers
