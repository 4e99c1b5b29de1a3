// Decoding and caching costs, each beside the alternative it replaced:
//   - a watch stream through WatchDecoder (frames cut at arbitrary chunk sizes);
//   - one list page turned into cached objects: the span scanner and
//     RawObject::fromText, against parsing the whole page with nlohmann and
//     RawObject::fromJson per item (the informer's path before);
//   - Store updates: upsert into an indexed store of 10,000 objects, and a
//     relist of 10,000 unchanged objects (no events, no re-indexing).
// Objects look like the API server's: metadata with uid, resourceVersion,
// labels, an owner and managedFields, and a spec of ~40 small fields, about
// 1.75 KB of JSON in all.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "runtime/json_scan.h"
#include "runtime/object.h"
#include "runtime/store.h"
#include "runtime/watch_decoder.h"

namespace {

nlohmann::json serverObject(size_t i, size_t rv = 1000) {
  const std::string n = std::to_string(i);
  nlohmann::json spec = nlohmann::json::object();
  for (int f = 0; f < 40; ++f)
    spec["field" + std::to_string(f)] =
        f % 3 == 0 ? nlohmann::json("value-" + n) : nlohmann::json(f);
  return {{"apiVersion", "test.kubec2.io/v1"},
          {"kind", "Widget"},
          {"metadata",
           {{"name", "w-" + n},
            {"namespace", "bench"},
            {"uid", "6f1c2d3e-0000-4000-8000-" +
                        std::string(12 - std::min<size_t>(12, n.size()), '0') + n},
            {"resourceVersion", std::to_string(rv + i)},
            {"generation", 1},
            {"creationTimestamp", "2026-11-23T04:00:00Z"},
            {"labels", {{"app", "web"}, {"tier", i % 2 ? "front" : "back"}}},
            {"ownerReferences",
             {{{"apiVersion", "v1"},
               {"kind", "Owner"},
               {"name", "o"},
               {"uid", "owner-" + std::to_string(i % 10)},
               {"controller", true}}}},
            {"managedFields",
             {{{"manager", "kubectl"},
               {"operation", "Update"},
               {"apiVersion", "test.kubec2.io/v1"},
               {"time", "2026-11-23T04:00:00Z"},
               {"fieldsType", "FieldsV1"},
               {"fieldsV1",
                {{"f:spec",
                  {{"f:field0", nlohmann::json::object()},
                   {"f:field1", nlohmann::json::object()}}}}}}}}}},
          {"spec", spec}};
}

std::string listPage(size_t items) {
  nlohmann::json list = {{"apiVersion", "test.kubec2.io/v1"},
                         {"kind", "WidgetList"},
                         {"metadata", {{"resourceVersion", "99999"}}},
                         {"items", nlohmann::json::array()}};
  for (size_t i = 0; i < items; ++i) list["items"].push_back(serverObject(i));
  return list.dump();
}

void BM_WatchDecode(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  std::string stream;
  constexpr size_t kFrames = 1000;
  for (size_t i = 0; i < kFrames; ++i)
    stream += nlohmann::json{{"type", "MODIFIED"}, {"object", serverObject(i)}}.dump() + "\n";
  for (auto _ : state) {
    kube::WatchDecoder d;
    size_t events = 0;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      d.feed(std::string_view(stream).substr(off, chunk), [&](kube::WatchEvent&& e) {
        benchmark::DoNotOptimize(e);
        ++events;
        return true;
      });
    }
    if (events != kFrames) state.SkipWithError("lost frames");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kFrames));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}
BENCHMARK(BM_WatchDecode)->Arg(1024)->Arg(16384);

// The informer's list path now: scan the page's text, build each RawObject
// from its span.
void BM_ListToCache_Scan(benchmark::State& state) {
  const std::string page = listPage(500);
  for (auto _ : state) {
    std::vector<std::shared_ptr<const kube::RawObject>> objs;
    kube::jsonscan::forEachMember(page, [&](const kube::jsonscan::Member& m) {
      if (m.key == "items")
        kube::jsonscan::forEachElement(m.value, [&](std::string_view item) {
          objs.push_back(std::make_shared<const kube::RawObject>(kube::RawObject::fromText(item)));
          return true;
        });
      return true;
    });
    benchmark::DoNotOptimize(objs);
  }
  state.SetItemsProcessed(state.iterations() * 500);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(page.size()));
}
BENCHMARK(BM_ListToCache_Scan);

// The path it replaced: parse the whole page into a tree, then per item
// RawObject::fromJson (copy without managedFields, serialise again).
void BM_ListToCache_ParseTree(benchmark::State& state) {
  const std::string page = listPage(500);
  for (auto _ : state) {
    std::vector<std::shared_ptr<const kube::RawObject>> objs;
    auto list = nlohmann::json::parse(page);
    for (auto& item : list["items"])
      objs.push_back(std::make_shared<const kube::RawObject>(kube::RawObject::fromJson(item)));
    benchmark::DoNotOptimize(objs);
  }
  state.SetItemsProcessed(state.iterations() * 500);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(page.size()));
}
BENCHMARK(BM_ListToCache_ParseTree);

std::vector<std::shared_ptr<const kube::RawObject>> cachedObjects(size_t n, size_t rv) {
  std::vector<std::shared_ptr<const kube::RawObject>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(std::make_shared<const kube::RawObject>(
        kube::RawObject::fromText(serverObject(i, rv).dump())));
  return out;
}

// A watch MODIFIED event applied to a store of 10,000: replace the object and
// move it between label and owner index entries.
void BM_StoreUpsert(benchmark::State& state) {
  constexpr size_t kN = 10000;
  kube::Store<kube::RawObject> store;
  for (auto& o : cachedObjects(kN, 1000)) store.upsert(o);
  const auto updates = cachedObjects(kN, 50000);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.upsert(updates[i++ % kN]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreUpsert);

// A relist that finds nothing changed: 10,000 objects compared by
// resourceVersion, no events, no index churn.
void BM_StoreRelistUnchanged(benchmark::State& state) {
  constexpr size_t kN = 10000;
  kube::Store<kube::RawObject> store;
  const auto objs = cachedObjects(kN, 1000);
  for (auto& o : objs) store.upsert(o);
  size_t events = 0;
  for (auto _ : state) {
    store.replace(objs, [&](const auto&, const auto&) { ++events; });
  }
  if (events != 0) state.SkipWithError("a relist of unchanged objects reported changes");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kN));
}
BENCHMARK(BM_StoreRelistUnchanged)->Unit(benchmark::kMillisecond);

}  // namespace
