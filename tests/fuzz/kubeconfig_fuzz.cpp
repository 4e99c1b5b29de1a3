// libFuzzer target: the kubeconfig parser (runtime/config.h).
// Input: kubeconfig YAML text. Checks that parsing either gives a config
// that honours the parser's promises (an https:// server without a trailing
// slash) or fails with ConfigError, never anything else.
//
// File references (certificate-authority: /some/path) are read as the
// parser would; the fuzzer's corpus names none that exist.
#include <strings.h>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runtime/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kube::RestConfig cfg = kube::parseKubeconfig(text, "", "", "fuzz");
    const std::string scheme = cfg.server.substr(0, 8);
    if (cfg.server.size() <= 8 || strncasecmp(scheme.c_str(), "https://", 8) != 0 ||
        cfg.server.back() == '/')
      std::abort();
  } catch (const kube::ConfigError&) {
  }
  return 0;
}
