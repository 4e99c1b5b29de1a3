// An instance's cloud-init (NoCloud) user data: from the user's data (inline
// or a Secret's key) and the key pair's SSH public keys (a Secret), and
// where it goes. Pure functions.
//
// Data a user placed in a Secret stays in Secrets: when the user data or
// the keys come from a Secret, the rendered document goes into an
// operator-owned Secret INSTANCE-cloud-init (owned by the Instance, deleted
// with it) that the VM references (cloudInitNoCloud.secretRef), whatever
// its size; only a document made of inline user data alone, and at most
// kMaxInlineCloudInitBytes long, is written into the VM.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

// A Secret to read before planning a start: the key pair's or the user data's.
struct SecretNeed {
  std::string name;
  std::optional<std::string> key;  // absent: every value (key pair)
  bool keyPair = false;            // true: SSH keys; false: user data
};

// A Secret's data as read (values decoded), or nullopt when it does not exist.
using SecretData = std::optional<std::map<std::string, std::string>>;

// The Secrets a launch reads: the key pair's, then the user data's.
std::vector<SecretNeed> secretsOf(const v1::LaunchSpec& launch);

// The longest document written into the VM itself: KubeVirt's admission
// refuses inline cloudInitNoCloud user data over 2048 bytes
// (cloudInitUserMaxLen in KubeVirt's validating webhook) and asks for a
// Secret instead, so a longer one goes through INSTANCE-cloud-init too.
inline constexpr std::size_t kMaxInlineCloudInitBytes = 2048;
// The most user data an instance takes, inline or from a Secret: EC2's limit.
inline constexpr std::size_t kMaxUserDataBytes = 16384;

struct CloudInitInputs {
  std::optional<std::string> userData;  // as the user wrote it
  std::vector<std::string> sshPublicKeys;
  bool fromSecret = false;  // some of it came from a Secret
  // What is wrong, for the condition and Event, naming the Secret, the
  // field and what is missing or too large; empty when nothing is.
  std::string problem;
  std::string problemReason = "SecretNotFound";  // or UserDataTooLarge
};

// The inputs from the launch's inline user data and the Secrets read
// (`secrets` by name). Key pair values are authorized_keys text: one key
// per non-empty, non-comment line.
CloudInitInputs cloudInitInputs(const v1::LaunchSpec& launch,
                                const std::map<std::string, SecretData>& secrets,
                                const std::string& ns);

// Public keys in authorized_keys text: one per non-empty line that is not a
// comment, trimmed, first occurrence kept.
std::vector<std::string> authorizedKeys(const std::vector<std::string>& values);

// The cloud-init user data: the user's #cloud-config with the SSH keys
// merged into ssh_authorized_keys (kept when the user's data is a shell
// script or another format cloud-init reads: then the keys go in a
// multipart MIME message with the user's part unchanged). Empty optional
// when there is neither user data nor a key.
std::optional<std::string> renderCloudInit(const std::optional<std::string>& userData,
                                           const std::vector<std::string>& sshPublicKeys);

// The operator-owned Secret holding a rendered document (key "userdata",
// which KubeVirt's cloudInitNoCloud.secretRef reads), named
// INSTANCE-cloud-init, labelled and owned by the Instance.
std::string cloudInitSecretName(const std::string& instanceName);
nlohmann::json renderCloudInitSecret(const v1::Instance& instance, const std::string& document);

// The VM's "cloudinit" volume: the document inline (userData, or
// userDataBase64 when it is not UTF-8) or a reference to the Secret.
nlohmann::json cloudInitVolume(const v1::Instance& instance, const std::string& document,
                               bool inSecret);

}  // namespace kubec2::reconcilers
