// The KubeVirt VirtualMachine, its cloud-init user data and the
// NetworkPolicy an Instance becomes.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "reconcilers/instance/cloud_init.h"
#include "reconcilers/instance/network_policy.h"
#include "reconcilers/instance/virtual_machine.h"
#include "runtime/yaml.h"

namespace {

namespace v1 = kubec2::api::v1alpha1;
using kubec2::reconcilers::InstanceTypeCatalog;
using kubec2::reconcilers::LaunchInputs;
using kubec2::reconcilers::LaunchResolution;
using kubec2::reconcilers::renderCloudInit;
using kubec2::reconcilers::renderNetworkPolicy;
using kubec2::reconcilers::renderVirtualMachine;
using kubec2::reconcilers::resolveLaunch;
using kubec2::reconcilers::VmInputs;
using nlohmann::json;

// An object from YAML, apiVersion and kind added.
json object(const std::string& yaml, const char* kind) {
  json j = kube::parseYamlDocuments(yaml).at(0);
  j["apiVersion"] = "compute.kubec2.io/v1alpha1";
  j["kind"] = kind;
  return j;
}

v1::Instance instance(const std::string& yaml) {
  return v1::Instance::fromJson(object(yaml, "Instance"));
}

const std::string kMeta = R"(
metadata:
  name: web-1
  namespace: prod
  uid: 0b1c2d3e-0000-4000-8000-000000000001
)";

// Renders the VM of an Instance without a template.
struct Rendered {
  v1::Instance inst;
  LaunchResolution launch;
  json vm;
};

Rendered render(const std::string& yaml, std::vector<std::string> keys = {},
                std::optional<std::string> userData = std::nullopt) {
  Rendered r;
  r.inst = instance(yaml);
  r.launch = resolveLaunch(r.inst, nullptr);
  EXPECT_TRUE(r.launch.ok()) << r.launch.problemMessage;
  VmInputs in;
  in.instance = &r.inst;
  in.launch = &r.launch;
  in.inputs = LaunchInputs::of(r.launch.spec,
                               *InstanceTypeCatalog::builtIn().find(*r.launch.spec.instanceType));
  if (const auto document = kubec2::reconcilers::renderCloudInit(userData, keys))
    in.cloudInit = kubec2::reconcilers::cloudInitVolume(r.inst, *document, /*inSecret=*/false);
  r.vm = renderVirtualMachine(in);
  return r;
}

const json& domainOf(const json& vm) {
  return vm["spec"]["template"]["spec"]["domain"];
}

// ------------------------------------------------------------- VM

struct SizeCase {
  const char* type;
  std::int64_t cores;
  const char* memory;
};

class VirtualMachineSize : public ::testing::TestWithParam<SizeCase> {};

TEST_P(VirtualMachineSize, CpuAndMemoryFromTheType) {
  const SizeCase& c = GetParam();
  const Rendered r =
      render(kMeta + "spec: {image: {containerDisk: img}, instanceType: " + c.type + "}");
  const json& d = domainOf(r.vm);
  EXPECT_EQ(d["cpu"]["cores"], c.cores);
  EXPECT_EQ(d["cpu"]["sockets"], 1);
  EXPECT_EQ(d["cpu"]["threads"], 1);
  EXPECT_EQ(d["memory"]["guest"], c.memory);
  EXPECT_EQ(d["resources"]["requests"]["memory"], c.memory);
}

INSTANTIATE_TEST_SUITE_P(VirtualMachine, VirtualMachineSize,
                         ::testing::Values(SizeCase{"t3.micro", 2, "1024Mi"},
                                           SizeCase{"m5.xlarge", 4, "16384Mi"},
                                           SizeCase{"g5.12xlarge", 48, "196608Mi"}));

TEST(VirtualMachine, ContainerDiskInstance) {
  const Rendered r = render(kMeta + R"(
  labels: {app: web}
spec:
  image: {containerDisk: "quay.io/containerdisks/fedora:40"}
  instanceType: t3.micro
)");
  const json& vm = r.vm;
  EXPECT_EQ(vm["apiVersion"], "kubevirt.io/v1");
  EXPECT_EQ(vm["kind"], "VirtualMachine");
  EXPECT_EQ(vm["metadata"]["name"], "web-1");
  EXPECT_EQ(vm["metadata"]["namespace"], "prod");
  EXPECT_EQ(vm["metadata"]["ownerReferences"], json::parse(R"([{
    "apiVersion": "compute.kubec2.io/v1alpha1", "kind": "Instance", "name": "web-1",
    "uid": "0b1c2d3e-0000-4000-8000-000000000001", "controller": true,
    "blockOwnerDeletion": true}])"));
  // The Instance's own labels are copied, so security group and load
  // balancer selectors find its pod by them.
  const json labels = {{"compute.kubec2.io/instance", "web-1"},
                       {"app.kubernetes.io/managed-by", "kubec2"},
                       {"app", "web"}};
  EXPECT_EQ(vm["metadata"]["labels"], labels);
  EXPECT_EQ(vm["spec"]["template"]["metadata"]["labels"], labels);
  // Only the launch inputs: no template version, no volumes to keep.
  EXPECT_EQ(vm["metadata"]["annotations"].size(), 1u) << vm["metadata"]["annotations"];
  EXPECT_TRUE(vm["metadata"]["annotations"].contains("compute.kubec2.io/launch-inputs"));
  EXPECT_EQ(vm["spec"]["runStrategy"], "Always");
  EXPECT_FALSE(vm["spec"].contains("dataVolumeTemplates"));
  const json& tspec = vm["spec"]["template"]["spec"];
  EXPECT_EQ(tspec["volumes"], json::parse(R"([
    {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}])"));
  EXPECT_EQ(tspec["domain"]["devices"]["disks"], json::parse(R"([
    {"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1}])"));
  EXPECT_EQ(tspec["domain"]["devices"]["interfaces"],
            json::parse(R"([{"name": "default", "masquerade": {}}])"));
  EXPECT_EQ(tspec["networks"], json::parse(R"([{"name": "default", "pod": {}}])"));
  EXPECT_FALSE(tspec.contains("affinity"));
}

TEST(VirtualMachine, StoppedIsHalted) {
  const Rendered r = render(
      kMeta + "spec: {image: {containerDisk: img}, instanceType: t3.micro, desiredState: stopped}");
  EXPECT_EQ(r.vm["spec"]["runStrategy"], "Halted");
}

TEST(VirtualMachine, PersistentRootExtraVolumesZoneAndCloudInit) {
  const Rendered r = render(kMeta + R"(
spec:
  image: {http: "https://example.com/debian.qcow2"}
  instanceType: m5.large
  availabilityZone: us-east-1b
  volumes:
    root: {sizeGiB: 30, storageClassName: fast}
    extra:
      - {name: data, sizeGiB: 100, storageClassName: standard}
      - {name: logs, sizeGiB: 5}
)",
                            {"ssh-ed25519 AAAAkey user@host"});
  const json& spec = r.vm["spec"];
  const json volLabels = {{"compute.kubec2.io/instance", "web-1"},
                          {"app.kubernetes.io/managed-by", "kubec2"}};
  EXPECT_EQ(spec["dataVolumeTemplates"],
            (json{{{"metadata", {{"name", "web-1-root"}, {"labels", volLabels}}},
                   {"spec",
                    {{"source", {{"http", {{"url", "https://example.com/debian.qcow2"}}}}},
                     {"storage",
                      {{"resources", {{"requests", {{"storage", "30Gi"}}}}},
                       {"storageClassName", "fast"}}}}}},
                  {{"metadata", {{"name", "web-1-data"}, {"labels", volLabels}}},
                   {"spec",
                    {{"source", {{"blank", json::object()}}},
                     {"storage",
                      {{"resources", {{"requests", {{"storage", "100Gi"}}}}},
                       {"storageClassName", "standard"}}}}}},
                  {{"metadata", {{"name", "web-1-logs"}, {"labels", volLabels}}},
                   {"spec",
                    {{"source", {{"blank", json::object()}}},
                     {"storage", {{"resources", {{"requests", {{"storage", "5Gi"}}}}}}}}}}}));
  const json& tspec = spec["template"]["spec"];
  EXPECT_EQ(tspec["domain"]["devices"]["disks"], json::parse(R"([
    {"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1},
    {"name": "data", "disk": {"bus": "virtio"}},
    {"name": "logs", "disk": {"bus": "virtio"}},
    {"name": "cloudinit", "disk": {"bus": "virtio"}}])"));
  EXPECT_EQ(tspec["volumes"], json::parse(R"([
    {"name": "root", "dataVolume": {"name": "web-1-root"}},
    {"name": "data", "dataVolume": {"name": "web-1-data"}},
    {"name": "logs", "dataVolume": {"name": "web-1-logs"}},
    {"name": "cloudinit", "cloudInitNoCloud": {
        "userData": "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAAkey user@host\n"}}])"));
  EXPECT_EQ(tspec["affinity"], json::parse(R"({"nodeAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
      {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                             "values": ["us-east-1b"]}]}]}}})"));
}

struct RootCase {
  const char* label;
  const char* image;
  const char* volumes;
  json source;
  json storage;
};

class VirtualMachineRoot : public ::testing::TestWithParam<RootCase> {};

TEST_P(VirtualMachineRoot, DataVolumeSourceAndSize) {
  const RootCase& c = GetParam();
  const Rendered r =
      render(kMeta + "spec:\n  instanceType: t3.micro\n  image: " + c.image + "\n" + c.volumes);
  const json& dv = r.vm["spec"]["dataVolumeTemplates"].at(0);
  EXPECT_EQ(dv["metadata"]["name"], "web-1-root");
  EXPECT_EQ(dv["spec"]["source"], c.source);
  EXPECT_EQ(dv["spec"]["storage"], c.storage);
}

INSTANTIATE_TEST_SUITE_P(
    VirtualMachine, VirtualMachineRoot,
    ::testing::Values(
        RootCase{"HttpDefault10Gi", "{http: \"https://x/y.img\"}", "",
                 json::parse(R"({"http": {"url": "https://x/y.img"}})"),
                 json::parse(R"({"resources": {"requests": {"storage": "10Gi"}}})")},
        RootCase{
            "RegistryDefault10Gi", "{registry: \"docker://quay.io/containerdisks/ubuntu:24.04\"}",
            "",
            json::parse(R"({"registry": {"url": "docker://quay.io/containerdisks/ubuntu:24.04"}})"),
            json::parse(R"({"resources": {"requests": {"storage": "10Gi"}}})")},
        RootCase{"PvcCloneSizedBySource", "{pvc: {name: golden}}", "",
                 json::parse(R"({"pvc": {"namespace": "prod", "name": "golden"}})"),
                 json::object()},
        RootCase{"PvcCloneSized", "{pvc: {name: golden}}", "  volumes: {root: {sizeGiB: 40}}",
                 json::parse(R"({"pvc": {"namespace": "prod", "name": "golden"}})"),
                 json::parse(R"({"resources": {"requests": {"storage": "40Gi"}}})")}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(VirtualMachine, LabelsFromTagsAndScalingGroup) {
  const Rendered r = render(kMeta + R"(
  labels: {compute.kubec2.io/scaling-group: web-asg, team: a}
spec:
  image: {containerDisk: img}
  instanceType: t3.micro
  tags:
    Name: web-1
    example.com/tier: frontend
    empty: ""
    "has space": x
    toolong: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    "bad/prefix/two": x
    "Upper.Case/x": y
    "-leading": x
    compute.kubec2.io/instance: spoof
    compute.kubec2.io/other: x
    app.kubernetes.io/managed-by: me
)");
  const json want = {{"compute.kubec2.io/instance", "web-1"},
                     {"compute.kubec2.io/scaling-group", "web-asg"},
                     {"app.kubernetes.io/managed-by", "kubec2"},
                     {"Name", "web-1"},
                     {"example.com/tier", "frontend"},
                     {"empty", ""},
                     {"team", "a"}};
  EXPECT_EQ(r.vm["metadata"]["labels"], want);
  EXPECT_EQ(r.vm["spec"]["template"]["metadata"]["labels"], want);
}

TEST(VirtualMachine, TemplateVersionAnnotation) {
  v1::Instance inst = instance(kMeta + "spec: {launchTemplateRef: {name: web}}");
  v1::LaunchTemplate t = v1::LaunchTemplate::fromJson(object(R"(
metadata: {name: web, namespace: prod}
spec:
  versions:
    - spec: {image: {containerDisk: a}, instanceType: t3.nano}
    - spec: {image: {containerDisk: b}, instanceType: t3.nano}
  defaultVersion: 2
)",
                                                             "LaunchTemplate"));
  const LaunchResolution launch = resolveLaunch(inst, &t);
  ASSERT_TRUE(launch.ok());
  VmInputs in{&inst,
              &launch,
              LaunchInputs::of(launch.spec, *InstanceTypeCatalog::builtIn().find("t3.nano")),
              std::nullopt,
              {}};
  const json vm = renderVirtualMachine(in);
  EXPECT_EQ(vm["metadata"]["annotations"]["compute.kubec2.io/launch-template-version"], "2");
  // What the start used, so a change while it runs waits for the next start.
  const auto inputs = LaunchInputs::onVm(&vm);
  ASSERT_TRUE(inputs);
  EXPECT_EQ(inputs->type.name, "t3.nano");
  EXPECT_EQ(vm["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"], "b");
}

TEST(VirtualMachine, NoCloudInitVolumeWithoutDataOrKeys) {
  const Rendered r = render(kMeta + "spec: {image: {containerDisk: img}, instanceType: t3.micro}");
  for (const json& v : r.vm["spec"]["template"]["spec"]["volumes"])
    EXPECT_NE(v["name"], "cloudinit");
  EXPECT_EQ(r.vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"].size(), 1u);
}

TEST(VirtualMachine, UserDataThatIsNotTextGoesBase64) {
  const std::string gz("\x1f\x8b\x08\x00\xff", 5);
  const Rendered r =
      render(kMeta + "spec: {image: {containerDisk: img}, instanceType: t3.micro}", {}, gz);
  const json& v = r.vm["spec"]["template"]["spec"]["volumes"][1];
  EXPECT_EQ(v["cloudInitNoCloud"], (json{{"userDataBase64", "H4sIAP8="}}));
  EXPECT_NO_THROW((void)r.vm.dump());
}

TEST(VirtualMachine, RefusesMissingInputs) {
  VmInputs in;
  EXPECT_THROW(renderVirtualMachine(in), std::invalid_argument);
}

// ------------------------------------------------------------- schema

// Walks `v` against a structural OpenAPI v3 schema as the API server's
// pruning does, collecting every path the schema does not know and every
// value of the wrong type.
void walk(const json& v, const json& s, const std::string& path, std::vector<std::string>& bad) {
  if (s.value("x-kubernetes-preserve-unknown-fields", false) && !s.contains("properties")) return;
  if (s.value("x-kubernetes-int-or-string", false)) {
    if (!v.is_string() && !v.is_number_integer()) bad.push_back(path + ": not int-or-string");
    return;
  }
  const std::string type = s.value("type", "");
  if (v.is_object()) {
    if (!type.empty() && type != "object") bad.push_back(path + ": object, schema says " + type);
    const bool meta =
        path.size() >= 8 && path.substr(path.size() - 8) == "metadata" && !s.contains("properties");
    for (const auto& [k, child] : v.items()) {
      const std::string p = path + "." + k;
      if (s.contains("properties") && s["properties"].contains(k)) {
        walk(child, s["properties"][k], p, bad);
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
        walk(child, s["additionalProperties"], p, bad);
      } else if (meta) {
        // ObjectMeta, which the CRD leaves as a bare object: the fields the
        // operator writes there.
        static const std::set<std::string> kObjectMeta = {"name", "namespace", "labels",
                                                          "annotations", "ownerReferences"};
        if (!kObjectMeta.count(k)) bad.push_back(p + ": not an ObjectMeta field");
      } else if (!s.value("x-kubernetes-preserve-unknown-fields", false)) {
        bad.push_back(p + ": unknown field");
      }
    }
  } else if (v.is_array()) {
    if (type != "array") bad.push_back(path + ": array, schema says " + type);
    for (std::size_t i = 0; i < v.size(); ++i)
      if (s.contains("items")) walk(v[i], s["items"], path + "[" + std::to_string(i) + "]", bad);
  } else if (v.is_string()) {
    if (type != "string") bad.push_back(path + ": string, schema says " + type);
  } else if (v.is_boolean()) {
    if (type != "boolean") bad.push_back(path + ": boolean, schema says " + type);
  } else if (v.is_number_integer()) {
    if (type != "integer" && type != "number")
      bad.push_back(path + ": integer, schema says " + type);
  }
}

json vmSchema() {
  std::ifstream f(std::string(KUBEC2_SOURCE_DIR) +
                  "/third_party/kubevirt/crds/kubevirt.io_virtualmachines.json");
  EXPECT_TRUE(f.good());
  const json crd = json::parse(f);
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

std::vector<std::string> unknownPaths(const json& vm) {
  static const json schema = vmSchema();
  std::vector<std::string> bad;
  walk(vm, schema, "", bad);
  return bad;
}

TEST(VirtualMachineSchema, EveryRenderedFieldExistsInKubeVirt) {
  const Rendered http = render(kMeta + R"(
  labels: {compute.kubec2.io/scaling-group: asg}
spec:
  image: {http: "https://example.com/debian.qcow2"}
  instanceType: g5.xlarge
  availabilityZone: us-east-1a
  desiredState: stopped
  volumes:
    root: {sizeGiB: 30, storageClassName: fast}
    extra: [{name: data, sizeGiB: 100, storageClassName: standard}]
  tags: {Name: web-1}
)",
                               {"ssh-ed25519 AAAA a@b"}, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(unknownPaths(http.vm), std::vector<std::string>{}) << http.vm.dump(2);
  const Rendered others[] = {
      render(kMeta + "spec: {image: {containerDisk: img}, instanceType: t3.micro}", {}, "x"),
      render(kMeta + "spec: {image: {registry: \"docker://a/b\"}, instanceType: t3.micro}"),
      render(kMeta + "spec: {image: {pvc: {name: g}}, instanceType: t3.micro}", {},
             std::string("\xff", 1)),
  };
  for (const Rendered& r : others)
    EXPECT_EQ(unknownPaths(r.vm), std::vector<std::string>{}) << r.vm.dump(2);
}

TEST(VirtualMachineSchema, TheWalkCatchesInventedFields) {
  json vm = render(kMeta + "spec: {image: {containerDisk: img}, instanceType: t3.micro}").vm;
  vm["spec"]["template"]["spec"]["domain"]["cpu"]["vcpus"] = 2;
  vm["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] = 5;
  vm["metadata"]["bogus"] = 1;
  EXPECT_EQ(
      unknownPaths(vm),
      (std::vector<std::string>{
          ".metadata.bogus: not an ObjectMeta field",
          ".spec.template.spec.domain.cpu.vcpus: unknown field",
          ".spec.template.spec.volumes[0].containerDisk.image: integer, schema says string"}));
}

// ------------------------------------------------------------- cloud-init

const std::string kKey1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 alice@laptop";
const std::string kKey2 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABKey2 bob #2";

TEST(CloudInit, NothingGivesNothing) {
  EXPECT_EQ(renderCloudInit(std::nullopt, {}), std::nullopt);
  EXPECT_EQ(renderCloudInit(std::string(""), {"", "# just a comment\n"}), std::nullopt);
}

TEST(CloudInit, UserDataAloneIsUnchanged) {
  const std::string script = "#!/bin/bash\necho 'hello' > /tmp/x\n";
  EXPECT_EQ(renderCloudInit(script, {}), script);
  const std::string config = "#cloud-config\n# comment kept\npackages: [nginx]\n";
  EXPECT_EQ(renderCloudInit(config, {}), config);
}

TEST(CloudInit, KeysAlone) {
  // Several values, several lines each: one entry per key, no duplicates.
  EXPECT_EQ(renderCloudInit(std::nullopt, {kKey1 + "\n\n# laptop\n", kKey2 + "\n" + kKey1 + "\n"}),
            "#cloud-config\nssh_authorized_keys:\n  - " + kKey1 + "\n  - \"" + kKey2 + "\"\n");
}

TEST(CloudInit, KeysMergedIntoCloudConfig) {
  const std::string user = R"(#cloud-config
packages: [nginx]
runcmd:
  - systemctl enable --now nginx
write_files:
  - path: /etc/motd
    permissions: '0644'
    content: |
      Welcome.
      Be nice.
ssh_pwauth: false
ssh_authorized_keys:
  - )" + kKey1 + R"(
users:
  - default
)";
  const auto out = renderCloudInit(user, {kKey1, kKey2});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out,
            "#cloud-config\n"
            "packages:\n"
            "  - nginx\n"
            "runcmd:\n"
            "  - systemctl enable --now nginx\n"
            "write_files:\n"
            "  - path: /etc/motd\n"
            "    permissions: \"0644\"\n"
            "    content: |\n"
            "      Welcome.\n"
            "      Be nice.\n"
            "ssh_pwauth: false\n"
            "ssh_authorized_keys:\n"
            "  - " +
                kKey1 +
                "\n"
                "  - \"" +
                kKey2 +
                "\"\n"
                "users:\n"
                "  - default\n");
  // What cloud-init reads is the user's document plus the new key.
  json want = kube::parseYamlDocuments(user).at(0);
  want["ssh_authorized_keys"].push_back(kKey2);
  EXPECT_EQ(kube::parseYamlDocuments(*out).at(0), want);
}

TEST(CloudInit, MergeKeepsQuotedScalarsStrings) {
  const std::string user =
      "#cloud-config\nhostname: \"yes\"\nfqdn: 'null'\nport: \"0755\"\nplain: 12\n"
      "text: \"two\\nlines\"\nssh_authorized_keys: " +
      kKey1 + "\n";
  const auto out = renderCloudInit(user, {kKey2});
  ASSERT_TRUE(out.has_value());
  const json got = kube::parseYamlDocuments(*out).at(0);
  EXPECT_EQ(got["hostname"], "yes");
  EXPECT_EQ(got["fqdn"], "null");
  EXPECT_EQ(got["port"], "0755");
  EXPECT_EQ(got["plain"], 12);
  EXPECT_EQ(got["text"], "two\nlines");
  // A single key written as a string becomes a list with the new key.
  EXPECT_EQ(got["ssh_authorized_keys"], (json{kKey1, kKey2}));
}

TEST(CloudInit, MergeRoundTripsBlockScalars) {
  // Whatever the layout, cloud-init reads the user's values unchanged.
  const std::string user =
      "#cloud-config\n"
      "runcmd:\n"
      "  - |\n"
      "    echo one\n"
      "\n"
      "      indented: yes # not a comment\n"
      "    - not a list\n"
      "  - >\n"
      "    folded\n"
      "    text\n"
      "  - |-\n"
      "    no newline\n"
      "  - |+\n"
      "    kept newlines\n"
      "\n"
      "  - \"  leading spaces\\nand more\\n\"\n"
      "  - \"trailing space \\nx\\n\"\n"
      "  - \"caf\xc3\xa9 \\t tab\"\n"
      "  - ~\n"
      "  - \n";
  const auto out = renderCloudInit(user, {kKey1});
  ASSERT_TRUE(out.has_value());
  json want = kube::parseYamlDocuments(user).at(0);
  want["ssh_authorized_keys"] = json{kKey1};
  EXPECT_EQ(kube::parseYamlDocuments(*out).at(0), want) << *out;
}

TEST(CloudInit, EmptyCloudConfigGetsKeys) {
  EXPECT_EQ(renderCloudInit(std::string("#cloud-config\n"), {kKey1}),
            "#cloud-config\nssh_authorized_keys:\n  - " + kKey1 + "\n");
}

const std::string kKeysPart =
    "Content-Type: text/cloud-config; charset=\"us-ascii\"\n"
    "MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: 7bit\n"
    "Content-Disposition: attachment; filename=\"kubec2-ssh-keys.cfg\"\n"
    "\n"
    "#cloud-config\n"
    "ssh_authorized_keys:\n"
    "  - " +
    kKey1 + "\n";

TEST(CloudInit, ShellScriptGoesInMultipart) {
  const std::string script = "#!/bin/bash\nset -e\ndnf install -y nginx\n";
  EXPECT_EQ(renderCloudInit(script, {kKey1}),
            "Content-Type: multipart/mixed; boundary=\"==kubec2-cloud-init==\"\n"
            "MIME-Version: 1.0\n"
            "\n"
            "--==kubec2-cloud-init==\n" +
                kKeysPart +
                "\n"
                "--==kubec2-cloud-init==\n"
                "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n"
                "MIME-Version: 1.0\n"
                "Content-Transfer-Encoding: 7bit\n"
                "Content-Disposition: attachment; filename=\"user-data\"\n"
                "\n" +
                script + "--==kubec2-cloud-init==--\n");
}

TEST(CloudInit, MimeUserDataIsNestedUnchanged) {
  const std::string mime =
      "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
      "MIME-Version: 1.0\n"
      "\n"
      "--XYZ\n"
      "Content-Type: text/x-shellscript\n"
      "\n"
      "#!/bin/sh\necho ==kubec2-cloud-init==\n"
      "--XYZ--";
  EXPECT_EQ(renderCloudInit(mime, {kKey1}),
            // The boundary changes, since the user's data holds the first choice.
            "Content-Type: multipart/mixed; boundary=\"==kubec2-cloud-init-1==\"\n"
            "MIME-Version: 1.0\n"
            "\n"
            "--==kubec2-cloud-init-1==\n" +
                kKeysPart +
                "\n"
                "--==kubec2-cloud-init-1==\n" +
                mime +
                "\n"
                "--==kubec2-cloud-init-1==--\n");
}

struct FormatCase {
  const char* userData;
  const char* contentType;
};

class CloudInitFormat : public ::testing::TestWithParam<FormatCase> {};

TEST_P(CloudInitFormat, PartTypeFollowsTheFirstLine) {
  const auto out = renderCloudInit(std::string(GetParam().userData), {kKey1});
  ASSERT_TRUE(out.has_value());
  EXPECT_NE(out->find(std::string("Content-Type: ") + GetParam().contentType + ";"),
            std::string::npos)
      << *out;
  EXPECT_NE(out->find(GetParam().userData), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    CloudInit, CloudInitFormat,
    ::testing::Values(FormatCase{"#include\nhttps://example.com/ud\n", "text/x-include-url"},
                      FormatCase{"#cloud-boothook\necho x\n", "text/cloud-boothook"},
                      FormatCase{"#cloud-config-archive\n- type: foo\n",
                                 "text/cloud-config-archive"},
                      FormatCase{"## template: jinja\n#cloud-config\n", "text/jinja2"},
                      FormatCase{"#cloud-config\n- not\n- a mapping\n", "text/cloud-config"},
                      FormatCase{"#cloud-config\nbroken: [\n", "text/cloud-config"},
                      FormatCase{"just text\n", "text/plain"},
                      FormatCase{"#!/bin/sh\necho h\xc3\xa9llo\n", "text/x-shellscript"}));

// ------------------------------------------------------------- NetworkPolicy

json policyFor(const std::string& groupsYaml) {
  const v1::Instance inst = instance(kMeta + "spec:\n  securityGroups:\n" + groupsYaml);
  const auto p = renderNetworkPolicy(inst, resolveLaunch(inst, nullptr).spec);
  EXPECT_TRUE(p.has_value());
  return p.value_or(json());
}

TEST(NetworkPolicy, NoneWithoutSecurityGroups) {
  const v1::Instance inst = instance(kMeta + "spec: {}");
  EXPECT_EQ(renderNetworkPolicy(inst, v1::LaunchSpec{}), std::nullopt);
}

TEST(NetworkPolicy, EmptyListAllowsNoIngress) {
  const v1::Instance inst =
      instance(kMeta + "  labels: {compute.kubec2.io/scaling-group: g}\nspec: {}");
  v1::LaunchSpec launch;
  launch.securityGroups.emplace();
  const auto p = renderNetworkPolicy(inst, launch);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, json::parse(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {
      "name": "web-1-sg", "namespace": "prod",
      "labels": {"compute.kubec2.io/instance": "web-1", "compute.kubec2.io/scaling-group": "g",
                 "app.kubernetes.io/managed-by": "kubec2"},
      "ownerReferences": [{"apiVersion": "compute.kubec2.io/v1alpha1", "kind": "Instance",
                           "name": "web-1", "uid": "0b1c2d3e-0000-4000-8000-000000000001",
                           "controller": true, "blockOwnerDeletion": true}]},
    "spec": {"podSelector": {"matchLabels": {"compute.kubec2.io/instance": "web-1"}},
             "policyTypes": ["Ingress"], "ingress": []}})"));
}

struct RuleCase {
  const char* label;
  const char* groups;
  json ingress;
};

class NetworkPolicyRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(NetworkPolicyRules, Ingress) {
  const json p = policyFor(GetParam().groups);
  EXPECT_EQ(p["spec"]["ingress"], GetParam().ingress) << p["spec"]["ingress"].dump();
  EXPECT_FALSE(p["metadata"].contains("annotations"));
}

INSTANTIATE_TEST_SUITE_P(
    NetworkPolicy, NetworkPolicyRules,
    ::testing::Values(RuleCase{"Cidr", R"(
    - name: web
      ingress:
        - {fromPort: 80, sources: [{cidr: 0.0.0.0/0}]}
        - {protocol: udp, fromPort: 53, sources: [{cidr: 10.0.0.0/8}, {cidr: 192.168.0.0/16}]}
)",
                               json::parse(R"([
          {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 80}]},
          {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "192.168.0.0/16"}}],
           "ports": [{"protocol": "UDP", "port": 53}]}])")},
                      RuleCase{"Selector", R"(
    - name: ssh
      ingress:
        - fromPort: 22
          sources:
            - instanceSelector: {matchLabels: {role: bastion}}
            - instanceSelector:
                matchExpressions: [{key: tier, operator: In, values: [a, b]}]
            - instanceSelector: {}
)",
                               json::parse(R"([{"from": [
            {"podSelector": {"matchLabels": {"role": "bastion"}}},
            {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            {"podSelector": {}}],
          "ports": [{"protocol": "TCP", "port": 22}]}])")},
                      RuleCase{
                          "AllProtocols", R"(
    - name: vpc
      ingress: [{protocol: all, sources: [{cidr: 10.0.0.0/16}]}]
)",
                          json::parse(R"([{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}])")},
                      RuleCase{"EveryPortOfProtocol", R"(
    - name: any-sctp
      ingress: [{protocol: sctp, sources: [{cidr: 10.0.0.0/16}]}]
)",
                               json::parse(R"([{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
                                  "ports": [{"protocol": "SCTP"}]}])")},
                      RuleCase{"SmallRange", R"(
    - name: app
      ingress: [{fromPort: 8080, toPort: 8082, sources: [{cidr: 1.2.3.4/32}]}]
)",
                               json::parse(R"([{"from": [{"ipBlock": {"cidr": "1.2.3.4/32"}}],
                                  "ports": [{"protocol": "TCP", "port": 8080},
                                            {"protocol": "TCP", "port": 8081},
                                            {"protocol": "TCP", "port": 8082}]}])")},
                      RuleCase{"SeveralGroupsAndEmptyOnes", R"(
    - name: none
    - name: empty
      ingress: []
    - name: web
      ingress: [{fromPort: 443, sources: [{cidr: 0.0.0.0/0}]}]
)",
                               json::parse(R"([{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                  "ports": [{"protocol": "TCP", "port": 443}]}])")},
                      RuleCase{"RuleWithoutSourcesAllowsNothing", R"(
    - name: odd
      ingress: [{fromPort: 22, sources: []}]
)",
                               json::array()}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(NetworkPolicy, WideRangeIsCutAt100PortsAndAnnotated) {
  const json p = policyFor(R"(
    - name: games
      ingress:
        - {fromPort: 22, sources: [{cidr: 0.0.0.0/0}]}
        - {protocol: udp, fromPort: 27000, toPort: 27999, sources: [{cidr: 0.0.0.0/0}]}
)");
  const json& ports = p["spec"]["ingress"][1]["ports"];
  ASSERT_EQ(ports.size(), 100u);
  EXPECT_EQ(ports.front(), (json{{"protocol", "UDP"}, {"port", 27000}}));
  EXPECT_EQ(ports.back(), (json{{"protocol", "UDP"}, {"port", 27099}}));
  EXPECT_EQ(p["metadata"]["annotations"]["compute.kubec2.io/truncated-rules"],
            "games.ingress[1]: ports 27000-27999, only 27000-27099 written");
}

TEST(NetworkPolicy, BackwardRangeIsLeftOutAndAnnotated) {
  const json p = policyFor(R"(
    - name: bad
      ingress: [{fromPort: 90, toPort: 80, sources: [{cidr: 0.0.0.0/0}]}]
)");
  EXPECT_EQ(p["spec"]["ingress"], json::array());
  EXPECT_EQ(p["metadata"]["annotations"]["compute.kubec2.io/truncated-rules"],
            "bad.ingress[0]: toPort 80 below fromPort 90, not written");
}

}  // namespace
