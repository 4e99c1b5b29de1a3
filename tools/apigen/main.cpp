// apigen: the compute API's declarations (api/v1alpha1/*.yaml, format in
// api/README.md) -> the CustomResourceDefinitions users apply, the C++ types
// with their JSON conversion, and the API reference. One source, no drift.
//
//   apigen --api DIR --crds DIR            write crds/<group>_<plural>.yaml and
//                                          crds/kustomization.yaml listing them
//   apigen --api DIR --helm-crds DIR       write the same CRDs into the Helm chart's
//                                          crds/ (helm package does not follow symlinks)
//   apigen --api DIR --cpp-header F --cpp-source F --include I
//                                          write the C++ types (I: how F is included)
//   apigen --api DIR --api-reference F     write the API reference (docs/api-reference.md)
//   any of them with --check               write nothing; exit 1 if a file differs
//
// Every rule of api/README.md is checked, and a broken one names the file and
// the schema path. Output is deterministic (declaration order is kept).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kGroup = "compute.kubec2.io";
constexpr const char* kVersion = "v1alpha1";

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ------------------------------------------------------------------ loading

// YAML -> ordered JSON, keeping declaration order. Scalars: YAML 1.2 core
// rules for plain scalars (true/false, null, integers, floats); quoted
// scalars are always strings.
Json toJson(const YAML::Node& n, const std::string& where) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) a.push_back(toJson(e, where));
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = toJson(kv.second, where);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-')) {
        try {
          size_t used = 0;
          long long v = std::stoll(s, &used);
          if (used == s.size()) return v;
          double d = std::stod(s, &used);
          if (used == s.size()) return d;
        } catch (const std::exception&) {
        }
      }
      return s;
    }
    default:
      throw Error(where + ": unsupported YAML node");
  }
}

struct KindDecl {
  std::string name, file;
  Json decl;
};

struct Api {
  Json definitions = Json::object();
  std::map<std::string, std::string> definedIn;  // definition -> file
  std::vector<KindDecl> kinds;
};

Api load(const fs::path& dir) {
  Api api;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(dir.string() + ": no .yaml files");
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    Json doc;
    try {
      doc = toJson(YAML::LoadFile(f.string()), name);
    } catch (const YAML::Exception& e) {
      throw Error(name + ": not valid YAML: " + e.what());
    }
    if (!doc.is_object()) throw Error(name + ": expected a mapping with kinds and definitions");
    for (const auto& [k, v] : doc.items())
      if (k != "kinds" && k != "definitions") throw Error(name + ": unknown top-level key " + k);
    if (doc.contains("definitions")) {
      for (const auto& [dn, dv] : doc["definitions"].items()) {
        if (api.definedIn.count(dn))
          throw Error(name + ": definition " + dn + " is also defined in " + api.definedIn[dn]);
        api.definedIn[dn] = name;
        api.definitions[dn] = dv;
      }
    }
    if (doc.contains("kinds"))
      for (const auto& [kn, kv] : doc["kinds"].items()) api.kinds.push_back({kn, name, kv});
  }
  if (api.kinds.empty()) throw Error(dir.string() + ": no kinds declared");
  return api;
}

// ------------------------------------------------------------------ checking and resolving

const std::set<std::string> kKeywords = {"type",
                                         "description",
                                         "enum",
                                         "default",
                                         "nullable",
                                         "format",
                                         "minimum",
                                         "maximum",
                                         "exclusiveMinimum",
                                         "exclusiveMaximum",
                                         "minLength",
                                         "maxLength",
                                         "pattern",
                                         "minItems",
                                         "maxItems",
                                         "minProperties",
                                         "maxProperties",
                                         "required",
                                         "properties",
                                         "additionalProperties",
                                         "items",
                                         "x-kubernetes-int-or-string",
                                         "x-kubernetes-preserve-unknown-fields",
                                         "x-kubernetes-list-type",
                                         "x-kubernetes-list-map-keys",
                                         "x-kubernetes-map-type",
                                         "$ref"};

class Resolver {
 public:
  explicit Resolver(const Api& api) : api_(api) {}

  // The schema with every $ref replaced by its definition, checked.
  // `needDescription`: a property or definition (items and map values need none).
  Json resolve(const Json& s, const std::string& where, bool needDescription) {
    if (!s.is_object()) throw Error(where + ": a schema must be a mapping");
    for (const auto& [k, v] : s.items())
      if (!kKeywords.count(k)) throw Error(where + ": unknown or unsupported keyword " + k);
    if (s.contains("$ref")) {
      for (const auto& [k, v] : s.items())
        if (k != "$ref" && k != "description")
          throw Error(where + ": only description may stand beside $ref, not " + k);
      const std::string ref = s["$ref"].get<std::string>();
      if (!api_.definitions.contains(ref)) throw Error(where + ": $ref " + ref + " is not defined");
      if (std::find(stack_.begin(), stack_.end(), ref) != stack_.end())
        throw Error(where + ": $ref " + ref + " refers to itself");
      stack_.push_back(ref);
      Json out = resolve(api_.definitions[ref], "definitions." + ref, true);
      stack_.pop_back();
      if (s.contains("description")) out["description"] = s["description"];
      return out;
    }
    if (needDescription && (!s.contains("description") || !s["description"].is_string() ||
                            s["description"].get<std::string>().empty()))
      throw Error(where + ": no description (kubectl explain shows it)");
    const bool intOrString = s.value("x-kubernetes-int-or-string", false);
    const bool preserve = s.value("x-kubernetes-preserve-unknown-fields", false);
    if (!s.contains("type") && !intOrString && !preserve) throw Error(where + ": no type");
    Json out = Json::object();
    for (const auto& [k, v] : s.items()) {
      if (k == "properties") {
        Json props = Json::object();
        for (const auto& [pn, pv] : v.items()) props[pn] = resolve(pv, where + "." + pn, true);
        out[k] = props;
      } else if (k == "items") {
        out[k] = resolve(v, where + "[]", false);
      } else if (k == "additionalProperties") {
        if (!v.is_object()) throw Error(where + ": additionalProperties must be a schema");
        out[k] = resolve(v, where + ".*", false);
      } else {
        out[k] = v;
      }
    }
    if (out.contains("required")) {
      for (const auto& r : out["required"])
        if (!out.contains("properties") || !out["properties"].contains(r.get<std::string>()))
          throw Error(where + ": required " + r.get<std::string>() + " is not a property");
    }
    return out;
  }

 private:
  const Api& api_;
  std::vector<std::string> stack_;
};

// Objects with properties must be named definitions (C++ structs need names).
void checkNoInlineObjects(const Json& s, const std::string& where, bool isDefinitionRoot) {
  if (!s.is_object()) return;
  if (s.contains("$ref")) return;
  if (s.contains("properties") && !isDefinitionRoot)
    throw Error(where + ": an object with properties must be a named definition ($ref)");
  if (s.contains("properties"))
    for (const auto& [pn, pv] : s["properties"].items())
      checkNoInlineObjects(pv, where + "." + pn, false);
  if (s.contains("items")) checkNoInlineObjects(s["items"], where + "[]", false);
  if (s.contains("additionalProperties") && s["additionalProperties"].is_object())
    checkNoInlineObjects(s["additionalProperties"], where + ".*", false);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Json crdFor(const Api& api, const KindDecl& k) {
  const Json& d = k.decl;
  const std::string where = k.file + ": kinds." + k.name;
  for (const auto& key : {"plural", "description", "spec"})
    if (!d.contains(key)) throw Error(where + ": missing " + key);
  Resolver r(api);
  auto refSchema = [&](const char* part) {
    Json ref = {{"$ref", d[part].get<std::string>()}};
    return r.resolve(ref, where + "." + part, true);
  };
  Json props = Json::object();
  props["apiVersion"] = {{"type", "string"},
                         {"description",
                          "APIVersion defines the versioned schema of this representation of an "
                          "object: compute.kubec2.io/v1alpha1."}};
  props["kind"] = {{"type", "string"},
                   {"description", "Kind is the type of this object: " + k.name + "."}};
  props["metadata"] = {{"type", "object"}};
  props["spec"] = refSchema("spec");
  if (d.contains("status")) props["status"] = refSchema("status");
  Json schema = {{"type", "object"},
                 {"description", d["description"]},
                 {"required", Json::array({"spec"})},
                 {"properties", props}};
  Json version = {{"name", kVersion}, {"served", true}, {"storage", true}};
  version["schema"] = {{"openAPIV3Schema", schema}};
  Json sub = Json::object();
  if (d.contains("status")) sub["status"] = Json::object();
  if (d.contains("scale")) {
    for (const auto& [sk, sv] : d["scale"].items())
      if (sk != "specReplicasPath" && sk != "statusReplicasPath" && sk != "labelSelectorPath")
        throw Error(where + ".scale: unknown key " + sk);
    sub["scale"] = d["scale"];
  }
  if (!sub.empty()) version["subresources"] = sub;
  if (d.contains("printerColumns")) version["additionalPrinterColumns"] = d["printerColumns"];
  Json names = {{"kind", k.name},
                {"listKind", k.name + "List"},
                {"plural", d["plural"]},
                {"singular", lower(k.name)},
                {"categories", Json::array({"kubec2"})}};
  if (d.contains("shortNames")) names["shortNames"] = d["shortNames"];
  for (const auto& [key, v] : d.items())
    if (key != "plural" && key != "description" && key != "spec" && key != "status" &&
        key != "scale" && key != "printerColumns" && key != "shortNames")
      throw Error(where + ": unknown key " + key);
  Json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
              {"kind", "CustomResourceDefinition"},
              {"metadata", {{"name", d["plural"].get<std::string>() + "." + kGroup}}},
              {"spec",
               {{"group", kGroup},
                {"names", names},
                {"scope", "Namespaced"},
                {"versions", Json::array({version})}}}};
  return crd;
}

// ------------------------------------------------------------------ YAML out

// Block-style YAML; every string scalar double-quoted in JSON syntax (which
// YAML 1.2 reads as is), so no value can be misread as a bool or a number.
bool plainKey(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  static const std::set<std::string> risky = {"y",   "n",    "yes",   "no",  "on",
                                              "off", "true", "false", "null"};
  return !risky.count(lower(k)) && !std::isdigit(static_cast<unsigned char>(k[0]));
}

// A string printed plain when YAML cannot read it as anything else,
// double-quoted (JSON syntax) otherwise.
std::string scalar(const Json& v) {
  if (!v.is_string()) return v.dump();
  const std::string s = v.get<std::string>();
  static const std::set<std::string> risky = {"y",   "n",    "yes",   "no",   "on",
                                              "off", "true", "false", "null", "~"};
  bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '.') &&
               s.back() != ' ' && s.back() != ':' && !risky.count(lower(s)) &&
               s.find(": ") == std::string::npos && s.find(" #") == std::string::npos;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) &&
        std::string(" ._/(),'-").find(ch) == std::string::npos)
      plain = false;
  return plain ? s : v.dump();
}

void emit(std::ostream& out, const Json& v, int indent, bool inSequence) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object() && !v.empty()) {
    bool first = true;
    for (const auto& [k, e] : v.items()) {
      if (!(first && inSequence)) out << pad;
      first = false;
      out << (plainKey(k) ? k : Json(k).dump()) << ":";
      if ((e.is_object() || e.is_array()) && !e.empty()) {
        out << "\n";
        emit(out, e, e.is_array() ? indent : indent + 2, false);
      } else {
        out << " " << scalar(e) << "\n";
      }
    }
  } else if (v.is_array() && !v.empty()) {
    for (const auto& e : v) {
      out << pad << "- ";
      if (e.is_array() && !e.empty()) {
        out << "\n";
        emit(out, e, indent + 2, false);
      } else if (e.is_object() && !e.empty()) {
        emit(out, e, indent + 2, true);
      } else {
        out << scalar(e) << "\n";
      }
    }
  } else {
    out << pad << scalar(v) << "\n";
  }
}

std::string yamlOf(const Json& v) {
  std::ostringstream out;
  out << "# Generated by tools/apigen from api/v1alpha1/*.yaml: edit those and run `make "
         "generate`.\n";
  emit(out, v, 0, false);
  return out.str();
}

// ------------------------------------------------------------------ C++ out

struct CppWriter {
  const Api& api;
  std::ostringstream h, c;

  std::string typeOf(const Json& s, const std::string& where) {
    if (s.contains("$ref")) return s["$ref"].get<std::string>();
    if (s.value("x-kubernetes-int-or-string", false)) return "IntOrString";
    const std::string t = s.value("type", "");
    if (t == "string") return "std::string";
    if (t == "integer") return "std::int64_t";
    if (t == "number") return "double";
    if (t == "boolean") return "bool";
    if (t == "array") return "std::vector<" + typeOf(s["items"], where + "[]") + ">";
    if (t == "object" && s.contains("additionalProperties") &&
        s["additionalProperties"].is_object())
      return "std::map<std::string, " + typeOf(s["additionalProperties"], where + ".*") + ">";
    if (t == "object" || s.value("x-kubernetes-preserve-unknown-fields", false))
      return "nlohmann::json";
    throw Error(where + ": no C++ type for this schema");
  }

  static void refsOf(const Json& s, std::set<std::string>& out) {
    if (!s.is_object()) return;
    if (s.contains("$ref")) out.insert(s["$ref"].get<std::string>());
    if (s.contains("properties"))
      for (const auto& [k, v] : s["properties"].items()) refsOf(v, out);
    if (s.contains("items")) refsOf(s["items"], out);
    if (s.contains("additionalProperties")) refsOf(s["additionalProperties"], out);
  }

  // Definitions in dependency order (a struct after the ones it holds).
  std::vector<std::string> order() {
    std::vector<std::string> out;
    std::set<std::string> done, visiting;
    std::function<void(const std::string&)> visit = [&](const std::string& n) {
      if (done.count(n)) return;
      if (visiting.count(n)) throw Error("definitions." + n + ": refers to itself");
      visiting.insert(n);
      std::set<std::string> deps;
      refsOf(api.definitions[n], deps);
      for (const auto& d : deps) visit(d);
      visiting.erase(n);
      done.insert(n);
      out.push_back(n);
    };
    for (const auto& [n, v] : api.definitions.items()) visit(n);
    return out;
  }

  static std::string comment(const std::string& text, const std::string& indent) {
    std::string out, line;
    std::istringstream words(text);
    std::string w;
    while (words >> w) {
      if (line.size() + w.size() + 1 > 90) {
        out += indent + "//" + line + "\n";
        line.clear();
      }
      line += " " + w;
    }
    if (!line.empty()) out += indent + "//" + line + "\n";
    return out;
  }

  void definition(const std::string& name) {
    const Json& s = api.definitions[name];
    if (!s.contains("properties")) return;  // aliases of scalars need no struct
    std::set<std::string> required;
    if (s.contains("required"))
      for (const auto& r : s["required"]) required.insert(r.get<std::string>());
    h << comment(s.value("description", ""), "");
    h << "struct " << name << " {\n";
    for (const auto& [pn, pv] : s["properties"].items()) {
      const std::string t = typeOf(pv, name + "." + pn);
      if (pv.contains("description")) h << comment(pv["description"].get<std::string>(), "  ");
      h << "  " << (required.count(pn) ? t : "std::optional<" + t + ">") << " " << ident(pn)
        << "{};\n";
    }
    h << "\n  static " << name
      << " fromJson(const nlohmann::json& j, const std::string& path = \"\");\n"
      << "  nlohmann::json toJson() const;\n"
      << "  bool operator==(const " << name << "&) const = default;\n};\n\n";

    c << name << " " << name << "::fromJson(const nlohmann::json& j, const std::string& path) {\n"
      << "  codec::requireObject(j, path);\n  " << name << " o;\n";
    for (const auto& [pn, pv] : s["properties"].items())
      c << "  codec::read(j, \"" << pn << "\", path, o." << ident(pn) << ");\n";
    c << "  return o;\n}\n\nnlohmann::json " << name << "::toJson() const {\n"
      << "  nlohmann::json j = nlohmann::json::object();\n";
    for (const auto& [pn, pv] : s["properties"].items())
      c << "  codec::write(j, \"" << pn << "\", " << ident(pn) << ");\n";
    c << "  return j;\n}\n\n";
  }

  static std::string ident(const std::string& n) {
    // C++ keywords a JSON field name may be; the field gets a trailing "_".
    static const std::set<std::string> reserved = {
        "auto",      "bool",     "break",    "case",    "catch",     "char",     "class",
        "const",     "continue", "default",  "delete",  "do",        "double",   "else",
        "enum",      "explicit", "export",   "extern",  "false",     "float",    "for",
        "friend",    "goto",     "if",       "inline",  "int",       "long",     "mutable",
        "namespace", "new",      "operator", "private", "protected", "public",   "register",
        "return",    "short",    "signed",   "sizeof",  "static",    "struct",   "switch",
        "template",  "this",     "throw",    "true",    "try",       "typedef",  "typename",
        "union",     "unsigned", "using",    "virtual", "void",      "volatile", "while",
        "and",       "or",       "not",      "xor",     "requires",  "concept",  "module",
        "import"};
    std::string out;
    for (char ch : n) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    return reserved.count(out) ? out + "_" : out;
  }

  void kind(const KindDecl& k) {
    const Json& d = k.decl;
    const std::string spec = d["spec"].get<std::string>();
    const bool hasStatus = d.contains("status");
    h << comment(d["description"].get<std::string>(), "");
    h << "struct " << k.name << " {\n"
      << "  std::string apiVersion = \"" << kGroup << "/" << kVersion << "\";\n"
      << "  std::string kind = \"" << k.name << "\";\n"
      << "  kube::ObjectMeta metadata{};\n"
      << "  " << spec << " spec{};\n";
    if (hasStatus) h << "  std::optional<" << d["status"].get<std::string>() << "> status{};\n";
    h << "\n  static " << k.name
      << " fromJson(const nlohmann::json& j, const std::string& path = \"\");\n"
      << "  nlohmann::json toJson() const;\n"
      << "  // " << d["plural"].get<std::string>() << "." << kGroup << ", for kube::Client.\n"
      << "  static const kube::Resource& resource();\n};\n\n";

    c << k.name << " " << k.name
      << "::fromJson(const nlohmann::json& j, const std::string& path) {\n"
      << "  codec::requireObject(j, path);\n  " << k.name << " o;\n"
      << "  codec::read(j, \"apiVersion\", path, o.apiVersion);\n"
      << "  codec::read(j, \"kind\", path, o.kind);\n"
      << "  if (auto m = j.find(\"metadata\"); m != j.end()) o.metadata = "
         "kube::ObjectMeta::fromJson(*m);\n"
      << "  codec::read(j, \"spec\", path, o.spec);\n";
    if (hasStatus) c << "  codec::read(j, \"status\", path, o.status);\n";
    c << "  return o;\n}\n\nnlohmann::json " << k.name << "::toJson() const {\n"
      << "  nlohmann::json j = {{\"apiVersion\", apiVersion}, {\"kind\", kind}, "
         "{\"metadata\", metadata.toJson()}};\n"
      << "  codec::write(j, \"spec\", spec);\n";
    if (hasStatus) c << "  codec::write(j, \"status\", status);\n";
    c << "  return j;\n}\n\nconst kube::Resource& " << k.name << "::resource() {\n"
      << "  static const kube::Resource r{\"" << kGroup << "\", \"" << kVersion << "\", \""
      << d["plural"].get<std::string>() << "\", true, \"" << k.name << "\"};\n"
      << "  return r;\n}\n\n";
  }

  void write(const std::string& includeName) {
    h << "// Generated by tools/apigen from api/v1alpha1/*.yaml: edit those and run `make "
         "generate`.\n"
      << "#pragma once\n\n#include <cstdint>\n#include <map>\n#include <optional>\n"
      << "#include <string>\n#include <vector>\n\n#include <nlohmann/json.hpp>\n\n"
      << "#include \"api/codec.h\"\n#include \"runtime/resource.h\"\n"
      << "#include \"runtime/object.h\"\n\nnamespace kubec2::api::" << kVersion << " {\n\n"
      << "using kubec2::api::IntOrString;\n\n";
    c << "// Generated by tools/apigen from api/v1alpha1/*.yaml: edit those and run `make "
         "generate`.\n"
      << "#include \"" << includeName << "\"\n\nnamespace kubec2::api::" << kVersion << " {\n\n";
    for (const auto& n : order()) definition(n);
    for (const auto& k : api.kinds) kind(k);
    h << "}  // namespace kubec2::api::" << kVersion << "\n";
    c << "}  // namespace kubec2::api::" << kVersion << "\n";
  }
};

// ------------------------------------------------------------------ Markdown out

// docs/api-reference.md: per kind, its names, printer columns and
// subresources, then spec and status as tables of field paths, from the same
// resolved schemas the CRDs carry, so it states what the API server enforces.
struct ReferenceWriter {
  const Api& api;
  std::ostringstream out;

  // Prose in a table cell: one line, Markdown's and the table's special
  // characters escaped (descriptions say "*.example.com" and "/static/*").
  static std::string text(const std::string& s) {
    std::string r;
    bool space = false;
    for (char ch : s) {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        space = !r.empty();
        continue;
      }
      if (space) r += ' ';
      space = false;
      if (std::string("\\`*_|<[]").find(ch) != std::string::npos) r += '\\';
      r += ch;
    }
    return r;
  }

  // A value as inline code; GFM tables need "|" escaped even there.
  static std::string code(const Json& v) {
    const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    std::string r;
    for (char ch : s) {
      if (ch == '|') r += '\\';
      r += ch;
    }
    return s.find('`') == std::string::npos ? "`" + r + "`" : "`` " + r + " ``";
  }

  static std::string typeWord(const Json& s) {
    if (s.value("x-kubernetes-int-or-string", false)) return "integer or string";
    const std::string t = s.value("type", "");
    if (t == "array") return "array of " + typeWord(s["items"]);
    if (t == "object" && s.contains("additionalProperties"))
      return "map of string to " + typeWord(s["additionalProperties"]);
    if (t.empty() || (t == "object" && !s.contains("properties") &&
                      s.value("x-kubernetes-preserve-unknown-fields", false)))
      return "any JSON";
    return s.contains("format") ? t + " (" + s["format"].get<std::string>() + ")" : t;
  }

  // "1 to 253 characters", "at least 1 item", "exactly 1 entry".
  static std::string range(const Json& s, const char* lo, const char* hi, const std::string& unit,
                           const std::string& units) {
    const bool hasLo = s.contains(lo), hasHi = s.contains(hi);
    if (!hasLo && !hasHi) return "";
    const Json& last = hasHi ? s[hi] : s[lo];
    const std::string u = last == 1 ? unit : units;
    if (hasLo && hasHi && s[lo] == s[hi]) return "exactly " + last.dump() + " " + u;
    if (hasLo && hasHi) return s[lo].dump() + " to " + s[hi].dump() + " " + u;
    return (hasLo ? "at least " : "at most ") + last.dump() + " " + u;
  }

  static std::string constraints(const Json& s) {
    std::vector<std::string> c;
    if (s.contains("enum")) {
      std::string e = "one of ";
      for (size_t i = 0; i < s["enum"].size(); ++i) e += (i ? ", " : "") + code(s["enum"][i]);
      c.push_back(e);
    }
    // exclusiveMinimum and exclusiveMaximum are booleans in a CRD schema.
    const bool exLo = s.value("exclusiveMinimum", false), exHi = s.value("exclusiveMaximum", false);
    if (s.contains("minimum") && s.contains("maximum") && !exLo && !exHi) {
      c.push_back(s["minimum"].dump() + " to " + s["maximum"].dump());
    } else {
      if (s.contains("minimum"))
        c.push_back((exLo ? "greater than " : "at least ") + s["minimum"].dump());
      if (s.contains("maximum"))
        c.push_back((exHi ? "less than " : "at most ") + s["maximum"].dump());
    }
    const bool fields = s.contains("properties");  // else a map
    for (const auto& r : {range(s, "minLength", "maxLength", "character", "characters"),
                          range(s, "minItems", "maxItems", "item", "items"),
                          range(s, "minProperties", "maxProperties", fields ? "field set" : "entry",
                                fields ? "fields set" : "entries")})
      if (!r.empty()) c.push_back(r);
    if (s.contains("pattern")) c.push_back("matches " + code(s["pattern"]));
    const std::string listType = s.value("x-kubernetes-list-type", "");
    if (listType == "set") c.push_back("items unique");
    if (listType == "map") {
      std::string keys;
      for (const auto& k : s["x-kubernetes-list-map-keys"])
        keys += (keys.empty() ? "" : ", ") + code(k);
      c.push_back("items unique by " + keys);
    }
    if (s.value("nullable", false)) c.push_back("may be null");
    // Scalar items and map values have no row of their own.
    for (const auto& [key, what] :
         {std::pair{"items", "each item: "}, std::pair{"additionalProperties", "each value: "}}) {
      if (!s.contains(key) || !s[key].is_object() || s[key].contains("properties")) continue;
      const std::string inner = constraints(s[key]);
      if (!inner.empty()) c.push_back(what + inner);
    }
    std::string r;
    for (const auto& e : c) r += (r.empty() ? "" : "; ") + e;
    return r;
  }

  // One row per property, then the properties of objects below it: "[]" is
  // every item of a list, ".<key>" every value of a map.
  void rows(const Json& s, const std::string& path) {
    std::set<std::string> required;
    if (s.contains("required"))
      for (const auto& r : s["required"]) required.insert(r.get<std::string>());
    for (const auto& [pn, pv] : s["properties"].items()) {
      const std::string p = path + "." + pn;
      out << "| " << code(p) << " | " << typeWord(pv) << " | " << (required.count(pn) ? "yes" : "")
          << " | " << (pv.contains("default") ? code(pv["default"]) : "") << " | "
          << constraints(pv) << " | " << text(pv.value("description", "")) << " |\n";
      if (pv.contains("properties")) rows(pv, p);
      if (pv.contains("items") && pv["items"].contains("properties")) rows(pv["items"], p + "[]");
      if (pv.contains("additionalProperties") && pv["additionalProperties"].is_object() &&
          pv["additionalProperties"].contains("properties"))
        rows(pv["additionalProperties"], p + ".<key>");
    }
  }

  void part(const KindDecl& k, const char* which) {
    Resolver r(api);
    const Json s = r.resolve(Json{{"$ref", k.decl[which].get<std::string>()}},
                             k.file + ": kinds." + k.name + "." + which, true);
    out << "\n### " << k.name << " " << which << "\n\n"
        << text(s.value("description", "")) << "\n\n"
        << "| field | type | required | default | constraints | description |\n"
        << "|---|---|---|---|---|---|\n";
    rows(s, which);
  }

  void kind(const KindDecl& k) {
    const Json& d = k.decl;
    const std::string plural = d["plural"].get<std::string>();
    out << "\n## " << k.name << "\n\n" << text(d["description"].get<std::string>()) << "\n\n";
    out << "- `apiVersion: " << kGroup << "/" << kVersion << "`, `kind: " << k.name
        << "`, namespaced.\n- `kubectl get " << plural << "`";
    if (d.contains("shortNames"))
      for (const auto& n : d["shortNames"]) out << ", `kubectl get " << n.get<std::string>() << "`";
    out << "; also listed by `kubectl get kubec2`.\n";
    if (d.contains("status")) out << "- Subresource `status`: the operator writes it.\n";
    if (d.contains("scale")) {
      out << "- Subresource `scale` (`kubectl scale`, autoscalers): replicas are `"
          << d["scale"].value("specReplicasPath", "") << "` (desired) and `"
          << d["scale"].value("statusReplicasPath", "") << "` (current)";
      if (d["scale"].contains("labelSelectorPath"))
        out << ", the selector `" << d["scale"]["labelSelectorPath"].get<std::string>() << "`";
      out << ".\n";
    }
    if (d.contains("printerColumns")) {
      out << "\nColumns of `kubectl get " << plural << "`:\n\n"
          << "| column | type | value | description |\n|---|---|---|---|\n";
      for (const auto& c : d["printerColumns"])
        out << "| " << text(c.value("name", "")) << " | " << c.value("type", "") << " | "
            << code(c.value("jsonPath", "")) << " | " << text(c.value("description", "")) << " |\n";
    }
    part(k, "spec");
    if (d.contains("status")) part(k, "status");
  }

  void write() {
    out << "<!-- Generated by tools/apigen from api/v1alpha1/*.yaml: edit those and run `make "
           "generate`. -->\n"
        << "# API reference: " << kGroup << "/" << kVersion << "\n\n"
        << "Generated from the declarations in `api/v1alpha1/` by `make generate` (a unit test "
           "fails when this file is stale). The same descriptions are what `kubectl explain` "
           "shows.\n\n"
        << "Reading the tables: a field path is as in `kubectl explain`; `[]` stands for every "
           "item of a list and `.<key>` for every value of a map. *required* means required "
           "whenever the object holding the field is present. The constraints are the CRD "
           "schema's, enforced by the API server; rules a schema cannot state are enforced by "
           "the admission webhook and said in the descriptions "
           "([admission-webhook.md](admission-webhook.md)).\n\n";
    for (const auto& k : api.kinds) out << "- [" << k.name << "](#" << lower(k.name) << ")\n";
    for (const auto& k : api.kinds) kind(k);
  }
};

// Writes `text` to `p` unless it is there already (so the build does not
// see a change); with `check`, writes nothing and says whether it differs.
// Returns false when `p` differs from `text`.
bool writeOrCheck(const fs::path& p, const std::string& text, bool check) {
  std::ifstream in(p);
  std::stringstream old;
  old << in.rdbuf();
  if (in && old.str() == text) return true;
  if (check) {
    std::cerr << "apigen: " << p.string()
              << " is not what api/v1alpha1 declares: run `make generate` and commit it\n";
    return false;
  }
  std::ofstream(p) << text;
  return true;
}

int run(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--check") {
      check = true;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      opt[a.substr(2)] = argv[++i];
    } else {
      throw Error(
          "usage: apigen --api DIR [--crds DIR] [--helm-crds DIR] [--cpp-header F --cpp-source F "
          "[--include NAME]] [--api-reference F] [--check]");
    }
  }
  if (!opt.count("api")) throw Error("--api DIR is required");
  const Api api = load(opt["api"]);
  for (const auto& [n, s] : api.definitions.items())
    checkNoInlineObjects(s, api.definedIn.at(n) + ": definitions." + n, true);

  int rc = 0;
  if (opt.count("crds")) {
    // And a kustomization listing them: kustomize reads files only below a
    // kustomization's own folder, so deploy/base takes crds/ as a whole.
    std::string kustomization =
        "# Generated by tools/apigen from api/v1alpha1 (make generate): the CRDs as a\n"
        "# kustomize resource, for deploy/base. Do not edit.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n";
    for (const auto& k : api.kinds) {
      const Json crd = crdFor(api, k);
      const std::string file =
          std::string(kGroup) + "_" + k.decl["plural"].get<std::string>() + ".yaml";
      if (!writeOrCheck(fs::path(opt["crds"]) / file, yamlOf(crd), check)) rc = 1;
      kustomization += "  - " + file + "\n";
    }
    if (!writeOrCheck(fs::path(opt["crds"]) / "kustomization.yaml", kustomization, check)) rc = 1;
  }
  if (opt.count("helm-crds")) {
    // The chart's copy, byte for byte: Helm installs every file of crds/
    // (a kustomization there would be sent to the API server), so the CRDs only.
    for (const auto& k : api.kinds) {
      const std::string file =
          std::string(kGroup) + "_" + k.decl["plural"].get<std::string>() + ".yaml";
      if (!writeOrCheck(fs::path(opt["helm-crds"]) / file, yamlOf(crdFor(api, k)), check)) rc = 1;
    }
  }
  if (opt.count("cpp-header")) {
    if (!opt.count("cpp-source")) throw Error("--cpp-header needs --cpp-source");
    CppWriter w{api, {}, {}};
    w.write(opt.count("include") ? opt["include"]
                                 : fs::path(opt["cpp-header"]).filename().string());
    if (!writeOrCheck(opt["cpp-header"], w.h.str(), check)) rc = 1;
    if (!writeOrCheck(opt["cpp-source"], w.c.str(), check)) rc = 1;
  }
  if (opt.count("api-reference")) {
    ReferenceWriter w{api, {}};
    w.write();
    if (!writeOrCheck(opt["api-reference"], w.out.str(), check)) rc = 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "apigen: " << e.what() << "\n";
    return 2;
  }
}
