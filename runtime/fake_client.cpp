#include "runtime/fake_client.h"

#include <algorithm>
#include <cstdio>

#include "runtime/json_pointer.h"
#include "runtime/managed_fields.h"
#include "runtime/selector.h"
#include "runtime/timefmt.h"

namespace kube {
namespace {

using nlohmann::json;

ApiError apiError(int code, const std::string& reason, const std::string& message) {
  Status s;
  s.code = code;
  s.reason = reason;
  s.message = message;
  return ApiError(std::move(s));
}

std::string qualified(const Resource& r, const std::string& name) {
  return r.groupResource() + " \"" + name + "\"";
}

ApiError notFound(const Resource& r, const std::string& name) {
  return apiError(404, "NotFound", qualified(r, name) + " not found");
}

ApiError conflict(const Resource& r, const std::string& name, const std::string& why) {
  return apiError(409, "Conflict",
                  "Operation cannot be fulfilled on " + qualified(r, name) + ": " + why);
}

ApiError invalid(const Resource& r, const std::string& name, const std::string& why) {
  return apiError(422, "Invalid", qualified(r, name) + " is invalid: " + why);
}

// Members of metadata the server sets and clients cannot change, and which
// no field manager owns.
bool isSystemPointer(const std::string& p) {
  static const char* kSystem[] = {"/apiVersion",
                                  "/kind",
                                  "/metadata/name",
                                  "/metadata/namespace",
                                  "/metadata/uid",
                                  "/metadata/resourceVersion",
                                  "/metadata/generation",
                                  "/metadata/creationTimestamp",
                                  "/metadata/deletionTimestamp",
                                  "/metadata/deletionGracePeriodSeconds",
                                  "/metadata/managedFields",
                                  "/metadata/selfLink"};
  for (const char* s : kSystem)
    if (p == s || p.rfind(std::string(s) + "/", 0) == 0) return true;
  return false;
}

bool isStatusPointer(const std::string& p) {
  return p == "/status" || p.rfind("/status/", 0) == 0;
}

std::set<std::string> ownableLeaves(const json& obj) {
  std::set<std::string> all, out;
  leafPointers(obj, "", all);
  for (const auto& p : all)
    if (!isSystemPointer(p)) out.insert(p);
  return out;
}

const json* at(const json& j, const std::string& pointer) {
  return valueAt(j, pointer);
}

// RFC 7386.
void mergePatch(json& target, const json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null())
      target.erase(k);
    else
      mergePatch(target[k], v);
  }
}

// Everything but metadata and status: what bumps metadata.generation.
json specPart(json j) {
  if (j.is_object()) {
    j.erase("metadata");
    j.erase("status");
  }
  return j;
}

bool matchesFields(const std::string& selector, const json& obj) {
  if (selector.empty()) return true;
  const json meta = obj.value("metadata", json::object());
  std::size_t start = 0;
  while (start <= selector.size()) {
    const std::size_t comma = selector.find(',', start);
    const std::string term =
        selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? selector.size() + 1 : comma + 1;
    if (term.empty()) continue;
    bool negate = false;
    std::size_t op = term.find("!=");
    std::size_t valueAt = 0;
    if (op != std::string::npos) {
      negate = true;
      valueAt = op + 2;
    } else if ((op = term.find("==")) != std::string::npos) {
      valueAt = op + 2;
    } else if ((op = term.find('=')) != std::string::npos) {
      valueAt = op + 1;
    } else {
      throw std::invalid_argument("field selector \"" + selector + "\": no operator in \"" + term +
                                  "\"");
    }
    const std::string field = term.substr(0, op);
    const std::string value = term.substr(valueAt);
    std::string actual;
    if (field == "metadata.name")
      actual = meta.value("name", "");
    else if (field == "metadata.namespace")
      actual = meta.value("namespace", "");
    else
      throw std::invalid_argument("field selector \"" + selector + "\": field \"" + field +
                                  "\" is not supported");
    if ((actual == value) == negate) return false;
  }
  return true;
}

bool matches(const LabelSelector& labels, const std::string& fields, const json& obj) {
  std::map<std::string, std::string> l;
  if (const json* m = at(obj, "/metadata/labels"); m != nullptr && m->is_object())
    for (const auto& [k, v] : m->items())
      if (v.is_string()) l[k] = v.get<std::string>();
  return labels.matches(l) && matchesFields(fields, obj);
}

std::string jsonPathToPointer(const std::string& path) {
  // ".spec.desiredCapacity" -> "/spec/desiredCapacity"
  std::string out;
  for (char c : path) out += c == '.' ? '/' : c;
  return out;
}

}  // namespace

FakeClient::FakeClient(const Clock* clock) : clock_(clock ? clock : &SystemClock::instance()) {}

FakeClient::~FakeClient() {
  closeWatches();
}

std::string FakeClient::resourceKey(const Resource& r) {
  return r.group + "/" + r.resource;
}

FakeClient::Key FakeClient::keyOf(const Resource& r, const std::string& ns,
                                  const std::string& name) {
  return resourceKey(r) + "|" + (r.namespaced ? ns : "") + "|" + name;
}

void FakeClient::serve(const Resource& r, FakeResourceOptions opts) {
  std::lock_guard l(mu_);
  served_[resourceKey(r)] = {r, std::move(opts)};
}

void FakeClient::unserve(const Resource& r) {
  std::lock_guard l(mu_);
  const std::string prefix = resourceKey(r) + "|";
  for (auto it = objects_.begin(); it != objects_.end();)
    it = it->first.rfind(prefix, 0) == 0 ? objects_.erase(it) : std::next(it);
  served_.erase(resourceKey(r));
}

const FakeClient::Served& FakeClient::served(const Resource& r) const {
  const auto it = served_.find(resourceKey(r));
  if (it == served_.end() || it->second.resource.version != r.version)
    throw apiError(404, "NotFound",
                   "the server could not find the requested resource (" + r.groupResource() + ")");
  return it->second;
}

bool FakeClient::isServed(const std::string& group, const std::string& version,
                          const std::string& resource) {
  std::lock_guard l(mu_);
  const auto it = served_.find(group + "/" + resource);
  return it != served_.end() && it->second.resource.version == version;
}

std::string FakeClient::now() const {
  return formatRfc3339(clock_->wallNow());
}

std::string FakeClient::nextRv() {
  return std::to_string(++rv_);
}

std::uint64_t FakeClient::resourceVersion() const {
  std::lock_guard l(mu_);
  return rv_;
}

int FakeClient::writes(const std::string& verb, const std::string& resource) const {
  std::lock_guard l(mu_);
  const auto it = writes_.find(verb + "|" + resource);
  return it == writes_.end() ? 0 : it->second;
}

void FakeClient::countWrite(const std::string& verb, const Resource& r) {
  ++writes_[verb + "|"];
  ++writes_[verb + "|" + r.resource];
}

FakeClient::Stored& FakeClient::mustFind(const Resource& r, const std::string& ns,
                                         const std::string& name) {
  const auto it = objects_.find(keyOf(r, ns, name));
  if (it == objects_.end()) throw notFound(r, name);
  return it->second;
}

FakeClient::Owner& FakeClient::Stored::owner(const std::string& manager,
                                             const std::string& operation,
                                             const std::string& subresource) {
  Owner& o = owners[manager + "|" + operation + "|" + subresource];
  o.manager = manager;
  o.operation = operation;
  o.subresource = subresource;
  return o;
}

json FakeClient::withManagedFields(const Stored& s) const {
  json out = s.object;
  json entries = json::array();
  for (const auto& [key, o] : s.owners) {
    if (o.fields.empty()) continue;
    json e = {{"manager", o.manager},
              {"operation", o.operation.empty() ? "Update" : o.operation},
              {"apiVersion", s.object.value("apiVersion", "")},
              {"time", o.time},
              {"fieldsType", "FieldsV1"},
              {"fieldsV1", fieldsV1Of(o.fields)}};
    if (!o.subresource.empty()) e["subresource"] = o.subresource;
    entries.push_back(std::move(e));
  }
  if (!entries.empty()) out["metadata"]["managedFields"] = std::move(entries);
  return out;
}

void FakeClient::record(const Resource& r, const std::string& type, const json& obj,
                        const json& previous) {
  history_.push_back({rv_, resourceKey(r), type, obj, previous});
  cv_.notify_all();
}

std::optional<json> FakeClient::object(const Resource& r, const std::string& ns,
                                       const std::string& name) const {
  std::lock_guard l(mu_);
  const auto it = objects_.find(keyOf(r, ns, name));
  if (it == objects_.end()) return std::nullopt;
  return withManagedFields(it->second);
}

std::vector<json> FakeClient::objects(const Resource& r, const std::string& ns) const {
  std::lock_guard l(mu_);
  std::vector<json> out;
  const std::string prefix = resourceKey(r) + "|" + (r.namespaced && !ns.empty() ? ns + "|" : "");
  for (const auto& [k, s] : objects_)
    if (k.rfind(prefix, 0) == 0) out.push_back(withManagedFields(s));
  return out;
}

// ------------------------------------------------------------------ reads

json FakeClient::get(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource) {
  std::lock_guard l(mu_);
  const Served& sv = served(r);
  const Stored& s = mustFind(r, ns, name);
  if (subresource.empty()) return withManagedFields(s);
  if (subresource == "status" && sv.opts.statusSubresource) return withManagedFields(s);
  if (subresource == "scale" && !sv.opts.specReplicasPath.empty()) return scaleOf(sv, s.object);
  throw notFound(r, name + "/" + subresource);
}

ListPage FakeClient::listPage(const Resource& r, const std::string& ns, const ListOptions& opts) {
  const LabelSelector sel = LabelSelector::parse(opts.labelSelector);
  std::lock_guard l(mu_);
  served(r);
  ListPage page;
  page.resourceVersion = std::to_string(rv_);
  const std::string prefix = resourceKey(r) + "|" + (r.namespaced && !ns.empty() ? ns + "|" : "");
  long skip = 0;
  if (!opts.continueToken.empty()) {
    try {
      skip = std::stol(opts.continueToken);
    } catch (const std::exception&) {
      throw apiError(400, "BadRequest", "continue token \"" + opts.continueToken + "\" is invalid");
    }
  }
  long seen = 0;
  for (const auto& [k, s] : objects_) {
    if (k.rfind(prefix, 0) != 0 || !matches(sel, opts.fieldSelector, s.object)) continue;
    if (seen++ < skip) continue;
    if (opts.limit > 0 && static_cast<long>(page.items.size()) == opts.limit) {
      page.continueToken = std::to_string(skip + opts.limit);
      break;
    }
    page.items.push_back(withManagedFields(s));
  }
  return page;
}

json FakeClient::scaleOf(const Served& sv, const json& obj) const {
  const json* spec = at(obj, jsonPathToPointer(sv.opts.specReplicasPath));
  const json* status = sv.opts.statusReplicasPath.empty()
                           ? nullptr
                           : at(obj, jsonPathToPointer(sv.opts.statusReplicasPath));
  const json* selector = sv.opts.labelSelectorPath.empty()
                             ? nullptr
                             : at(obj, jsonPathToPointer(sv.opts.labelSelectorPath));
  const json meta = obj.value("metadata", json::object());
  json scale = {
      {"apiVersion", "autoscaling/v1"},
      {"kind", "Scale"},
      {"metadata",
       {{"name", meta.value("name", "")},
        {"namespace", meta.value("namespace", "")},
        {"uid", meta.value("uid", "")},
        {"resourceVersion", meta.value("resourceVersion", "")},
        {"creationTimestamp", meta.value("creationTimestamp", "")}}},
      {"spec", {{"replicas", spec != nullptr && spec->is_number() ? *spec : json(0)}}},
      {"status", {{"replicas", status != nullptr && status->is_number() ? *status : json(0)}}}};
  if (selector != nullptr && selector->is_string()) scale["status"]["selector"] = *selector;
  return scale;
}

// ------------------------------------------------------------------ writes

json FakeClient::create(const Resource& r, const std::string& ns, const json& obj,
                        const WriteOptions& opts) {
  std::lock_guard l(mu_);
  return createLocked(r, ns, obj, opts);
}

json FakeClient::createLocked(const Resource& r, const std::string& ns, const json& obj,
                              const WriteOptions& opts) {
  const Served& sv = served(r);
  if (!obj.is_object()) throw apiError(400, "BadRequest", "the body is not a JSON object");
  if (!opts.subresource.empty())
    throw apiError(405, "MethodNotAllowed", "create on a subresource is not supported here");
  json o = obj;
  if (sv.opts.statusSubresource) o.erase("status");
  json& meta = o["metadata"];
  if (!meta.is_object()) meta = json::object();
  std::string name = meta.value("name", "");
  if (name.empty()) {
    const std::string gen = meta.value("generateName", "");
    if (gen.empty())
      throw invalid(r, "", "metadata.name: Required value: name or generateName is required");
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%05llu",
                  static_cast<unsigned long long>(uids_ + 1) % 100000ULL);
    name = gen + suffix;
  }
  const Key key = keyOf(r, ns, name);
  if (objects_.count(key))
    throw apiError(409, "AlreadyExists", qualified(r, name) + " already exists");
  o["apiVersion"] = r.apiVersion();
  if (!r.kind.empty()) o["kind"] = r.kind;
  meta["name"] = name;
  if (r.namespaced) meta["namespace"] = ns;
  char uid[40];
  std::snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012llu",
                static_cast<unsigned long long>(++uids_));
  meta["uid"] = uid;
  meta["creationTimestamp"] = now();
  meta["generation"] = 1;
  if (!meta.value("resourceVersion", "").empty())
    throw apiError(500, "InternalError",
                   "Internal error occurred: resourceVersion should not be set on objects to be "
                   "created");
  meta.erase("deletionTimestamp");
  meta.erase("managedFields");
  meta.erase("resourceVersion");
  if (opts.dryRun) return o;
  countWrite("create", r);
  meta["resourceVersion"] = nextRv();
  Stored s;
  s.object = o;
  Owner& owner = s.owner(opts.fieldManager.empty() ? "unknown" : opts.fieldManager, "Update", "");
  owner.fields = ownableLeaves(o);
  owner.time = now();
  objects_[key] = s;
  record(r, "ADDED", withManagedFields(s));
  return withManagedFields(s);
}

json FakeClient::commit(const Resource& r, const Key& key, Stored& s, json next,
                        const std::string& manager, bool isApply, bool isStatus) {
  const json old = s.object;
  // What clients cannot change.
  json& meta = next["metadata"];
  if (!meta.is_object()) meta = json::object();
  for (const char* k : {"name", "namespace", "uid", "creationTimestamp", "generation",
                        "deletionTimestamp", "resourceVersion"}) {
    if (old["metadata"].contains(k))
      meta[k] = old["metadata"][k];
    else
      meta.erase(k);
  }
  meta.erase("managedFields");
  next["apiVersion"] = old.value("apiVersion", r.apiVersion());
  if (old.contains("kind")) next["kind"] = old["kind"];
  const std::string name = meta.value("name", "");
  const bool deleting = old["metadata"].contains("deletionTimestamp");
  if (deleting) {
    std::set<std::string> before;
    for (const auto& f : old["metadata"].value("finalizers", json::array()))
      before.insert(f.dump());
    for (const auto& f : meta.value("finalizers", json::array()))
      if (!before.count(f.dump()))
        throw invalid(r, name,
                      "metadata.finalizers: Forbidden: no new finalizers can be added if the "
                      "object is being deleted");
  }
  // Ownership: what this write set becomes the writer's; applied fields
  // were settled by the caller.
  const std::string sub = isStatus ? "status" : "";
  if (!isApply) {
    const std::set<std::string> newLeaves = ownableLeaves(next);
    std::set<std::string> changed;
    for (const auto& p : newLeaves) {
      const json* before = at(old, p);
      if (before == nullptr || *before != *at(next, p)) changed.insert(p);
    }
    const std::string mine = manager + "|Update|" + sub;
    for (auto& [k, o] : s.owners)
      for (auto it = o.fields.begin(); it != o.fields.end();)
        it = (!newLeaves.count(*it) || (changed.count(*it) && k != mine)) ? o.fields.erase(it)
                                                                          : std::next(it);
    if (!changed.empty()) {
      Owner& o = s.owner(manager, "Update", sub);
      o.fields.insert(changed.begin(), changed.end());
      o.time = now();
    }
  }
  if (next == old) return withManagedFields(s);  // a no-op write changes nothing
  if (!isStatus && specPart(next) != specPart(old))
    meta["generation"] = old["metadata"].value("generation", 1) + 1;
  meta["resourceVersion"] = nextRv();
  s.object = std::move(next);
  const bool gone = deleting && s.object["metadata"].value("finalizers", json::array()).empty();
  json out = withManagedFields(s);
  if (gone) {
    removeLocked(r, key);
  } else {
    record(r, "MODIFIED", out, old);
  }
  return out;
}

json FakeClient::update(const Resource& r, const std::string& ns, const json& obj,
                        const WriteOptions& opts) {
  const std::string name = obj.value("metadata", json::object()).value("name", "");
  if (opts.subresource == "scale") {
    // A Scale is written as a patch of its replicas, guarded by its resourceVersion.
    const json meta = obj.value("metadata", json::object());
    json body = {{"spec", {{"replicas", obj.value("spec", json::object()).value("replicas", 0)}}}};
    if (meta.contains("resourceVersion"))
      body["metadata"]["resourceVersion"] = meta["resourceVersion"];
    return patch(r, ns, name, PatchType::Merge, body,
                 {.fieldManager = opts.fieldManager, .subresource = "scale"});
  }
  std::lock_guard l(mu_);
  const Served& sv = served(r);
  Stored& s = mustFind(r, ns, name);
  const std::string rv = obj.value("metadata", json::object()).value("resourceVersion", "");
  if (rv.empty())
    throw invalid(r, name,
                  "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
  if (rv != s.object["metadata"].value("resourceVersion", ""))
    throw conflict(r, name,
                   "the object has been modified; please apply your changes to the latest "
                   "version and try again");
  json next;
  const bool status = opts.subresource == "status";
  if (status) {
    if (!sv.opts.statusSubresource) throw notFound(r, name + "/status");
    next = s.object;
    if (obj.contains("status"))
      next["status"] = obj["status"];
    else
      next.erase("status");
  } else {
    next = obj;
    if (sv.opts.statusSubresource) {
      next.erase("status");
      if (s.object.contains("status")) next["status"] = s.object["status"];
    }
  }
  if (opts.dryRun) return next;
  countWrite("update", r);
  return commit(r, keyOf(r, ns, name), s, std::move(next),
                opts.fieldManager.empty() ? "unknown" : opts.fieldManager, false, status);
}

json FakeClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const json& body, const PatchOptions& opts) {
  std::unique_lock l(mu_);
  const Served& sv = served(r);
  if (type == PatchType::Apply) {
    l.unlock();
    return applyConfig(r, ns, name, body, opts);
  }
  Stored& s = mustFind(r, ns, name);
  const bool status = opts.subresource == "status";
  const bool scale = opts.subresource == "scale";
  if (status && !sv.opts.statusSubresource) throw notFound(r, name + "/status");
  if (scale && sv.opts.specReplicasPath.empty()) throw notFound(r, name + "/scale");
  json base = scale ? scaleOf(sv, s.object) : s.object;
  json patched = base;
  if (type == PatchType::Json) {
    try {
      patched = base.patch(body);
    } catch (const json::exception& e) {
      throw invalid(r, name, std::string("the JSON patch does not apply: ") + e.what());
    }
  } else {
    if (!body.is_object()) throw apiError(400, "BadRequest", "a merge patch must be an object");
    if (const json* rv = at(body, "/metadata/resourceVersion");
        rv != nullptr && rv->is_string() && *rv != s.object["metadata"]["resourceVersion"])
      throw conflict(r, name,
                     "the object has been modified; please apply your changes to the latest "
                     "version and try again");
    mergePatch(patched, body);
  }
  json next;
  if (scale) {
    next = s.object;
    setValueAt(next, jsonPathToPointer(sv.opts.specReplicasPath),
               patched["spec"].value("replicas", 0));
  } else if (status) {
    next = s.object;
    if (patched.contains("status"))
      next["status"] = patched["status"];
    else
      next.erase("status");
  } else {
    next = patched;
    if (sv.opts.statusSubresource) {
      next.erase("status");
      if (s.object.contains("status")) next["status"] = s.object["status"];
    }
  }
  countWrite("patch", r);
  json out = commit(r, keyOf(r, ns, name), s, std::move(next),
                    opts.fieldManager.empty() ? "unknown" : opts.fieldManager, false, status);
  return scale ? scaleOf(sv, out) : out;
}

json FakeClient::applyConfig(const Resource& r, const std::string& ns, const std::string& name,
                             const json& config, const PatchOptions& opts) {
  if (opts.fieldManager.empty())
    throw invalid(r, name, "fieldManager: Required value: is required for apply patch");
  if (!config.is_object())
    throw apiError(400, "BadRequest", "an apply configuration must be an object");
  std::lock_guard l(mu_);
  const Served& sv = served(r);
  const bool status = opts.subresource == "status";
  const Key key = keyOf(r, ns, name);
  std::set<std::string> applied;
  for (const auto& p : ownableLeaves(config))
    if (status ? isStatusPointer(p) : !(sv.opts.statusSubresource && isStatusPointer(p)))
      applied.insert(p);
  const auto it = objects_.find(key);
  if (it == objects_.end()) {
    if (status) throw notFound(r, name);
    json obj = json::object();
    for (const auto& p : applied) setValueAt(obj, p, *at(config, p));
    obj["metadata"]["name"] = name;
    // Counted and recorded as a create; the fields are the applier's, as Apply.
    WriteOptions create;
    create.fieldManager = opts.fieldManager;
    createLocked(r, ns, obj, create);
    Stored& s = objects_.at(key);
    s.owners.clear();
    Owner& o = s.owner(opts.fieldManager, "Apply", "");
    o.fields = applied;
    o.time = now();
    return withManagedFields(s);
  }
  Stored& s = it->second;
  const std::string mineKey = opts.fieldManager + "|Apply|" + (status ? "status" : "");
  if (!opts.force) {
    for (const auto& p : applied) {
      const json* current = at(s.object, p);
      if (current == nullptr || *current == *at(config, p)) continue;
      for (const auto& [k, o] : s.owners)
        if (k != mineKey && o.fields.count(p))
          throw apiError(409, "Conflict",
                         "Apply failed with 1 conflict: conflict with \"" + o.manager + "\": " + p);
    }
  }
  json next = s.object;
  Owner& mine = s.owner(opts.fieldManager, "Apply", status ? "status" : "");
  // Fields this manager applied before and no longer does go, unless
  // another entry owns them too.
  for (const auto& p : mine.fields) {
    if (applied.count(p)) continue;
    bool ownedByOther = false;
    for (const auto& [k, o] : s.owners)
      if (k != mineKey && o.fields.count(p)) ownedByOther = true;
    if (!ownedByOther) eraseValueAt(next, p);
  }
  for (const auto& p : applied) {
    const json* current = at(s.object, p);
    const bool differs = current == nullptr || *current != *at(config, p);
    if (differs)
      for (auto& [k, o] : s.owners)
        if (k != mineKey) o.fields.erase(p);
    setValueAt(next, p, *at(config, p));
  }
  mine.fields = applied;
  mine.time = now();
  countWrite("patch", r);
  return commit(r, key, s, std::move(next), opts.fieldManager, true, status);
}

std::optional<json> FakeClient::del(const Resource& r, const std::string& ns,
                                    const std::string& name, const DeleteOptions& opts) {
  std::lock_guard l(mu_);
  served(r);
  const Key key = keyOf(r, ns, name);
  Stored& s = mustFind(r, ns, name);
  json& meta = s.object["metadata"];
  if (opts.preconditionUid && *opts.preconditionUid != meta.value("uid", ""))
    throw conflict(r, name,
                   "Precondition failed: UID in precondition: " + *opts.preconditionUid +
                       ", UID in object meta: " + meta.value("uid", ""));
  if (opts.preconditionResourceVersion &&
      *opts.preconditionResourceVersion != meta.value("resourceVersion", ""))
    throw conflict(r, name,
                   "Precondition failed: ResourceVersion in precondition: " +
                       *opts.preconditionResourceVersion +
                       ", ResourceVersion in object meta: " + meta.value("resourceVersion", ""));
  countWrite("delete", r);
  const std::string uid = meta.value("uid", "");
  if (opts.propagationPolicy == "Orphan") {
    for (auto& [k, d] : objects_) {
      const auto found = d.object["metadata"].find("ownerReferences");
      if (found == d.object["metadata"].end() || !found->is_array()) continue;
      json* refs = &*found;
      const auto before = refs->size();
      refs->erase(std::remove_if(refs->begin(), refs->end(),
                                 [&](const json& ref) { return ref.value("uid", "") == uid; }),
                  refs->end());
      if (refs->size() != before) {
        if (refs->empty()) d.object["metadata"].erase("ownerReferences");
        d.object["metadata"]["resourceVersion"] = nextRv();
        record(served_.at(k.substr(0, k.find('|'))).resource, "MODIFIED", withManagedFields(d));
      }
    }
  }
  if (!meta.value("finalizers", json::array()).empty()) {
    if (!meta.contains("deletionTimestamp")) markDeleting(r, s);
    return withManagedFields(s);
  }
  removeLocked(r, key);
  return std::nullopt;
}

void FakeClient::markDeleting(const Resource& r, Stored& s) {
  json& meta = s.object["metadata"];
  meta["deletionTimestamp"] = now();
  meta["deletionGracePeriodSeconds"] = 0;
  // The server bumps the generation when deletion starts (registry's
  // markAsDeleting), so controllers see a new generation to observe.
  if (meta.value("generation", 0) > 0) meta["generation"] = meta.value("generation", 0) + 1;
  meta["resourceVersion"] = nextRv();
  record(r, "MODIFIED", withManagedFields(s));
}

void FakeClient::removeLocked(const Resource& r, const Key& key) {
  const auto it = objects_.find(key);
  if (it == objects_.end()) return;
  json last = withManagedFields(it->second);
  const std::string uid = last["metadata"].value("uid", "");
  objects_.erase(it);
  ++rv_;
  last["metadata"]["resourceVersion"] = std::to_string(rv_);
  record(r, "DELETED", last);
  collectGarbageLocked(uid);
}

void FakeClient::collectGarbageLocked(const std::string& ownerUid) {
  if (ownerUid.empty()) return;
  std::set<std::string> liveUids;
  for (const auto& [k, s] : objects_) liveUids.insert(s.object["metadata"].value("uid", ""));
  std::vector<Key> dependents;
  for (const auto& [k, s] : objects_) {
    const json refs = s.object["metadata"].value("ownerReferences", json::array());
    bool ownedByGone = false, ownerAlive = false;
    for (const auto& ref : refs) {
      const std::string u = ref.value("uid", "");
      if (u == ownerUid) ownedByGone = true;
      if (liveUids.count(u)) ownerAlive = true;
    }
    if (ownedByGone && !ownerAlive) dependents.push_back(k);
  }
  for (const auto& k : dependents) {
    const auto it = objects_.find(k);
    if (it == objects_.end()) continue;
    const Resource& dr = served_.at(k.substr(0, k.find('|'))).resource;
    json& meta = it->second.object["metadata"];
    if (!meta.value("finalizers", json::array()).empty()) {
      if (!meta.contains("deletionTimestamp")) markDeleting(dr, it->second);
      continue;
    }
    removeLocked(dr, k);
  }
}

// ------------------------------------------------------------------ watch

void FakeClient::watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                       const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop) {
  const LabelSelector sel = LabelSelector::parse(opts.labelSelector);
  const std::string rk = resourceKey(r);
  const std::string nsPrefix = rk + "|" + (r.namespaced && !ns.empty() ? ns + "|" : "");
  auto inScope = [&](const json& obj) {
    if (r.namespaced && !ns.empty() && obj["metadata"].value("namespace", "") != ns) return false;
    return matches(sel, opts.fieldSelector, obj);
  };
  std::vector<WatchEvent> batch;
  std::uint64_t from = 0;
  std::size_t next = 0;  // index into history_ of the first event not yet looked at
  std::uint64_t epoch = 0;
  {
    std::lock_guard l(mu_);
    served(r);
    epoch = watchEpoch_;
    if (opts.resourceVersion.empty() || opts.resourceVersion == "0") {
      for (const auto& [k, s] : objects_)
        if (k.rfind(nsPrefix, 0) == 0 && inScope(s.object))
          batch.push_back({"ADDED", withManagedFields(s)});
      from = rv_;
    } else {
      try {
        from = std::stoull(opts.resourceVersion);
      } catch (const std::exception&) {
        throw apiError(400, "BadRequest",
                       "resourceVersion \"" + opts.resourceVersion + "\" is invalid");
      }
      if (from < historyStart_) {
        batch.push_back({"ERROR",
                         {{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"status", "Failure"},
                          {"reason", "Expired"},
                          {"code", 410},
                          {"message", "too old resource version: " + opts.resourceVersion + " (" +
                                          std::to_string(historyStart_) + ")"}}});
        epoch = ~0ULL;  // ends after the frame, as the server does
      }
    }
    while (next < history_.size() && history_[next].rv <= from) ++next;
  }
  for (;;) {
    for (auto& e : batch)
      if (!onEvent(std::move(e))) return;
    batch.clear();
    if (epoch == ~0ULL) return;
    std::unique_lock l(mu_);
    cv_.wait(l, stop, [&] { return next < history_.size() || watchEpoch_ != epoch; });
    if (stop.stop_requested() || watchEpoch_ != epoch) return;
    for (; next < history_.size(); ++next) {
      const Event& e = history_[next];
      if (e.resourceKey != rk) continue;
      // An object that moves out of a selector's scope is DELETED for this
      // watcher, one that moves in is ADDED, as the server's watch cache does.
      const bool now = inScope(e.object);
      const bool before =
          e.type == "MODIFIED" && (e.previous.is_null() ? now : inScope(e.previous));
      if (e.type != "MODIFIED") {
        if (now) batch.push_back({e.type, e.object});
      } else if (now) {
        batch.push_back({before ? "MODIFIED" : "ADDED", e.object});
      } else if (before) {
        batch.push_back({"DELETED", e.object});
      }
    }
  }
}

void FakeClient::closeWatches() {
  std::lock_guard l(mu_);
  ++watchEpoch_;
  cv_.notify_all();
}

void FakeClient::compactHistory() {
  std::lock_guard l(mu_);
  historyStart_ = rv_;
}

std::string FakeClient::request(const std::string& method, const std::string& path,
                                const std::string&, const std::string&) {
  if (method == "GET" && path == "/version")
    return json{{"major", "1"}, {"minor", "20"}, {"gitVersion", "v1.20.2-fake"}}.dump();
  throw apiError(404, "NotFound", method + " " + path + ": not served by the fake API");
}

}  // namespace kube
