#include "api/validation/warnings.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <vector>

#include "api/validation/field_error.h"

namespace kubec2::api::validation {
namespace {

// Values longer than this get no suggestions: nothing known is that long,
// and the distance costs the product of the lengths.
constexpr std::size_t kMaxCompared = 64;

// A value as the warning shows it: bare when it is made of label value
// characters (every name it is compared with is), quoted as Go's %q
// otherwise, so odd characters cannot garble the line kubectl prints; cut
// to kMaxCompared characters, so the warning stays one short line.
std::string shown(const std::string& value) {
  const std::string v =
      value.size() > kMaxCompared ? value.substr(0, kMaxCompared - 3) + "..." : value;
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
  });
  return plain ? v : goQuote(v);
}

// Up to `n` of `known`, nearest to `value` first (ties keep `known`'s order;
// a value too long to compare keeps it all).
std::vector<std::string> nearest(const std::string& value, const std::vector<std::string>& known,
                                 std::size_t n) {
  std::vector<std::pair<std::size_t, std::size_t>> byDistance;  // distance, index
  for (std::size_t i = 0; i < known.size(); ++i)
    byDistance.emplace_back(value.size() <= kMaxCompared ? editDistance(value, known[i]) : 0, i);
  std::stable_sort(byDistance.begin(), byDistance.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < byDistance.size() && i < n; ++i)
    out.push_back(known[byDistance[i].second]);
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

// "a, b, c", or "a ... z" for more than three.
std::string summary(const std::vector<std::string>& items) {
  if (items.size() <= 3) return joined(items);
  return items.front() + " ... " + items.back();
}

}  // namespace

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void warnInstanceType(const std::string& path, const std::string& type,
                      const AdmissionLookups& lookups, Warnings& out) {
  const auto known = lookups.instanceTypes();
  if (!known || std::find(known->begin(), known->end(), type) != known->end()) return;
  std::string w = path + ": " + shown(type) +
                  " is not a known instance type (the instance type ConfigMap may add it)";
  const std::string family = type.substr(0, type.find('.'));
  std::vector<std::string> sizes;
  for (const auto& k : *known)
    if (k.size() > family.size() && k.compare(0, family.size(), family) == 0 &&
        k[family.size()] == '.')
      sizes.push_back(k);
  if (!sizes.empty()) {
    const std::string closest = nearest(type, sizes, 1).front();
    if (type.size() <= kMaxCompared && editDistance(type, closest) <= 2)
      w += "; did you mean " + closest + "?";
    w += "; " + family + " has " + summary(sizes);
  } else if (!known->empty()) {
    w += "; the nearest known are " + joined(nearest(type, *known, 3));
  }
  out.push_back(std::move(w));
}

void warnZone(const std::string& path, const std::string& zone, const AdmissionLookups& lookups,
              Warnings& out) {
  const auto zones = lookups.zones();
  if (!zones || std::find(zones->begin(), zones->end(), zone) != zones->end()) return;
  if (zones->empty()) {
    out.push_back(path + ": no node has a topology.kubernetes.io/zone label, so none is in " +
                  shown(zone) + " (yet)");
    return;
  }
  std::string w = path + ": no node is in zone " + shown(zone) +
                  " (topology.kubernetes.io/zone) yet; nodes are in " +
                  joined(nearest(zone, *zones, 3));
  if (zones->size() > 3) w += " and " + std::to_string(zones->size() - 3) + " more";
  out.push_back(std::move(w));
}

void warnLaunchTemplate(const std::string& path, const std::string& ns, const std::string& name,
                        const AdmissionLookups& lookups, Warnings& out) {
  const auto exists = lookups.launchTemplateExists(ns, name);
  if (!exists || *exists) return;
  out.push_back(path + ": LaunchTemplate " + shown(name) + " does not exist in namespace " +
                shown(ns) + " (yet); nothing launches until it does");
}

}  // namespace kubec2::api::validation
