using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Sources;

public sealed class ResourceFileParserTests
{
    private const string Cluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    [Fact]
    public void Parse_TheExampleFile_ServesEveryResourceInIt()
    {
        var path = RepoPaths.Combine("envoy-config", "examples", "resources.yaml");
        var snapshot = ResourceFileParser.Parse(path, File.ReadAllText(path));

        Assert.Equal("CDS=2, EDS=2, LDS=2, RDS=1", snapshot.Summary);
    }

    [Fact]
    public void Parse_JsonAndYamlOfTheSameResources_GiveTheSameVersion()
    {
        var json = $$"""[{"@type": "{{Cluster}}", "name": "a", "type": "STATIC", "connect_timeout": "1s"}]""";
        var yaml = $"- \"@type\": {Cluster}\n  name: a\n  type: STATIC\n  connect_timeout: 1s\n";

        Assert.Equal(ResourceFileParser.Parse("r.json", json).Version, ResourceFileParser.Parse("r.yaml", yaml).Version);
    }

    [Fact]
    public void Parse_ObjectWithResourcesArray_IsAccepted()
    {
        var json = $$"""{"resources": [{"@type": "{{Cluster}}", "name": "a", "type": "STATIC"}]}""";
        Assert.Equal("CDS=1", ResourceFileParser.Parse("r.json", json).Summary);
    }

    [Fact]
    public void Parse_EveryKindOfBadItem_IsReportedAtOnce_NamingIndexTypeAndField()
    {
        var json = $$"""
        [
          "just a string",
          {"name": "no-type"},
          {"@type": "type.googleapis.com/envoy.config.route.v3.VirtualHost", "name": "vh"},
          {"@type": "{{Cluster}}", "name": "bad", "connect_timeout": "soon"},
          {"@type": "{{Cluster}}", "name": "", "type": "STATIC"},
          {"@type": "{{Cluster}}", "name": "dup", "type": "STATIC"},
          {"@type": "{{Cluster}}", "name": "dup", "type": "STATIC"},
          {"@type": "{{Cluster}}", "name": "typo", "conect_timeout": "1s"}
        ]
        """;
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("bad.json", json));

        Assert.Equal(
        [
            "resources[0]: expected an object with '@type', found the string \"just a string\".",
            $"resources[1]: '@type' is missing; set it to one of {string.Join(", ", TypeUrls.PushOrder)}.",
            $"resources[2]: '@type' 'type.googleapis.com/envoy.config.route.v3.VirtualHost' is not a resource type this server serves; use one of {string.Join(", ", TypeUrls.PushOrder)}, or wrap one in {TypeUrls.ResourceWrapper} to give it a ttl.",
            "resources[3] (Cluster 'bad'): field 'connect_timeout': Invalid Duration value: soon. Fix or remove that field.",
            "resources[4] (Cluster): field 'name' is empty; every resource needs a name, unique within its type.",
            "resources[6] (Cluster 'dup'): the name is already used by resources[5]; names must be unique within a type. Rename or remove one.",
            "resources[7] (Cluster 'typo'): field 'conect_timeout': 'envoy.config.cluster.v3.Cluster' has no field 'conect_timeout'. Fix or remove that field.",
        ], error.Errors);
    }

    [Fact]
    public void Parse_YamlErrors_CarryTheLineOfTheItem()
    {
        var yaml = $"- \"@type\": {Cluster}\n  name: ok\n  type: STATIC\n- \"@type\": {Cluster}\n  name: broken\n  lb_policy: SOMETIMES\n";
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.yaml", yaml));

        Assert.Equal(["resources[1] (line 4) (Cluster 'broken'): field 'lb_policy': Invalid enum value: SOMETIMES for enum type: envoy.config.cluster.v3.Cluster.LbPolicy. Fix or remove that field."], error.Errors);
    }

    [Fact]
    public void Parse_BrokenJsonSyntax_SaysWhere()
    {
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.json", "[{\"@type\": }]"));
        Assert.StartsWith("not valid JSON (line 1, byte 12): ", error.Errors.Single());
    }

    [Fact]
    public void Parse_BrokenYamlSyntax_SaysWhere()
    {
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.yaml", "- name: a\n  bad: [unclosed\n"));
        Assert.StartsWith("not valid YAML (line ", error.Errors.Single());
    }

    [Fact]
    public void Parse_NotAnArray_ExplainsTheExpectedShape()
    {
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.json", "{\"name\": \"x\"}"));
        Assert.StartsWith("the file must hold an array of resources (or an object with a 'resources' array)", error.Errors.Single());
    }

    [Fact]
    public void Parse_InconsistentReferences_AreRefused()
    {
        var json = "[{\"@type\": \"" + Cluster + "\", \"name\": \"needs-eds\", \"type\": \"EDS\", \"eds_cluster_config\": {\"eds_config\": {\"ads\": {}}}}]";
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.json", json));
        Assert.Equal("inconsistent \"eds\" reference: missing [needs-eds]", error.Errors[0]);
        Assert.Equal($"Resources file 'r.json' was refused (2 problems):{Environment.NewLine}  - inconsistent \"eds\" reference: missing [needs-eds]{Environment.NewLine}  - Cluster 'needs-eds' is of type EDS and needs ClusterLoadAssignment 'needs-eds', which is missing. Add a ClusterLoadAssignment with cluster_name 'needs-eds', or give the cluster a static load_assignment.", error.Message);
    }

    [Fact]
    public void Parse_ResourceWrapperWithTtl_GivesTheResourceItsTtl()
    {
        var yaml = $"- \"@type\": {TypeUrls.ResourceWrapper}\n  ttl: 30s\n  resource:\n    \"@type\": {Cluster}\n    name: leased\n    type: STATIC\n";
        var resource = ResourceFileParser.Parse("r.yaml", yaml).Get(TypeUrls.Cluster).Find("leased");

        Assert.NotNull(resource);
        Assert.Equal(TimeSpan.FromSeconds(30), resource.Ttl);
    }

    [Fact]
    public void Parse_ResourceWrapperProblems_AreNamed()
    {
        var json = $$$"""
        [
          {"@type": "{{{TypeUrls.ResourceWrapper}}}", "ttl": "0s", "resource": {"@type": "{{{Cluster}}}", "name": "a"}},
          {"@type": "{{{TypeUrls.ResourceWrapper}}}", "name": "b", "resource": {"@type": "{{{Cluster}}}", "name": "c"}},
          {"@type": "{{{TypeUrls.ResourceWrapper}}}", "ttl": "1s"},
          {"@type": "{{{TypeUrls.ResourceWrapper}}}", "ttl": "often", "resource": {"@type": "{{{Cluster}}}", "name": "d"}}
        ]
        """;
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.json", json));

        Assert.Equal(
        [
            "resources[0] (Resource): field 'ttl' is 00:00:00; a TTL must be positive, e.g. \"30s\", or left out for none.",
            "resources[1] (Resource): field 'name' is 'b' but the wrapped resource is named 'c'; leave 'name' out or make them equal.",
            $"resources[2] (Resource): field 'resource' must hold one of {string.Join(", ", TypeUrls.PushOrder)} (with its '@type'); it holds 'nothing'.",
            "resources[3] (Resource): field 'ttl': Invalid Duration value: often. Fix or remove that field.",
        ], error.Errors);
    }
}
