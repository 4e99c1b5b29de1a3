// One plain HTTP request with libcurl, for tests that talk to the KubeVirt
// simulator's control API or to a VM's address.
#pragma once

#include <string>
#include <utility>

#include <curl/curl.h>

namespace kube::testing {

// {status, body}; status 0 when nothing answers within 3 s.
inline std::pair<long, std::string> http(const std::string& method, const std::string& url,
                                         const std::string& body = "") {
  CURL* c = curl_easy_init();
  std::string out;
  auto append = +[](char* p, size_t size, size_t n, void* to) {
    static_cast<std::string*>(to)->append(p, size * n);
    return size * n;
  };
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_slist* headers = nullptr;
  if (!body.empty() || method == "PUT" || method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return {code, out};
}

}  // namespace kube::testing
