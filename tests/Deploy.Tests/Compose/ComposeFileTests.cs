using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.XdsServer.Tests.RealEnvoy;

namespace ZenMesh.Deploy.Tests.Compose;

/// <summary>
/// deploy/compose: the compose file and its Dockerfile agree with each other, with the repository
/// and with the services they run. No Docker engine here, so 'docker compose config' cannot run;
/// these checks read the files as compose would and hand each command to its service's own checks.
/// </summary>
public sealed partial class ComposeFileTests : IDisposable
{
    private static readonly string Directory = RepoPaths.Combine("deploy", "compose");
    private readonly ServiceCommand _commands = new();
    private readonly YamlMappingNode _compose = Load(Path.Combine(Directory, "compose.yaml"));

    public void Dispose() => _commands.Dispose();

    private static YamlMappingNode Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(file);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    private IEnumerable<(string Name, YamlMappingNode Spec)> Services() =>
        ((YamlMappingNode)_compose["services"]).Children.Select(c => (((YamlScalarNode)c.Key).Value!, (YamlMappingNode)c.Value));

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;

    private static YamlNode? Child(YamlMappingNode node, string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static List<string> Strings(YamlNode? node) => node switch
    {
        YamlSequenceNode seq => [.. seq.Children.Cast<YamlScalarNode>().Select(s => s.Value!)],
        YamlScalarNode s => [s.Value!],
        _ => [],
    };

    [Fact]
    public void EveryImage_IsPinned_AndEnvoyIsTheReleaseTheTestsRun()
    {
        var images = Services().Select(s => (s.Name, Image: Scalar(s.Spec, "image"))).ToList();

        Assert.All(images, i => Assert.True(i.Image is not null && PinnedTag().IsMatch(i.Image), $"service {i.Name}: image '{i.Image}' must name a tag other than latest"));
        Assert.Equal(PinnedEnvoy.Image, images.Single(i => i.Name == "envoy").Image);
    }

    [Fact]
    public void EveryBuild_NamesAStageOfTheDockerfile_WhoseCopiedPathsExist()
    {
        var dockerfile = File.ReadAllLines(Path.Combine(Directory, "Dockerfile"));
        var stages = dockerfile.Select(l => Stage().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        var builds = Services().Select(s => (s.Name, Build: Child(s.Spec, "build") as YamlMappingNode)).Where(s => s.Build is not null).ToList();

        Assert.NotEmpty(builds);
        Assert.All(builds, b =>
        {
            Assert.Equal("../..", Scalar(b.Build!, "context"));
            Assert.Equal("deploy/compose/Dockerfile", Scalar(b.Build!, "dockerfile"));
            Assert.True(stages.Contains(Scalar(b.Build!, "target")!), $"service {b.Name} builds target '{Scalar(b.Build!, "target")}', which the Dockerfile lacks (stages: {string.Join(", ", stages)})");
        });
        // The build context is the repository root: every COPY from it must exist there.
        var copied = dockerfile.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1]).ToList();
        Assert.Contains("protos/envoy/", copied);
        Assert.All(copied, path => Assert.True(File.Exists(RepoPaths.Combine(path)) || System.IO.Directory.Exists(RepoPaths.Combine(path)), $"the Dockerfile copies {path}, which the repository lacks"));
        // The proto step fetches from npm while src/Envoy.Api.Protos builds.
        Assert.Contains(dockerfile, l => l.Contains("nodejs npm", StringComparison.Ordinal));
    }

    [Fact]
    public void References_BetweenServicesVolumesAndSecrets_AllResolve()
    {
        var services = Services().Select(s => s.Name).ToHashSet();
        var volumes = ((YamlMappingNode)_compose["volumes"]).Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!).ToHashSet();
        var secrets = ((YamlMappingNode)_compose["secrets"]).Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!).ToHashSet();

        foreach (var (name, spec) in Services())
        {
            var dependsOn = Child(spec, "depends_on") is YamlMappingNode d ? d.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!) : [];
            Assert.All(dependsOn, other => Assert.True(services.Contains(other), $"{name} depends on unknown service {other}"));
            if (Scalar(spec, "network_mode") is { } mode)
            {
                Assert.True(mode.StartsWith("service:", StringComparison.Ordinal) && services.Contains(mode["service:".Length..]), $"{name}: network_mode {mode}");
            }
            foreach (var mount in Strings(Child(spec, "volumes")))
            {
                var source = mount.Split(':')[0];
                Assert.True(source.StartsWith("./", StringComparison.Ordinal) ? File.Exists(Path.Combine(Directory, source)) : volumes.Contains(source), $"{name} mounts {source}, which is neither a declared volume nor a file here");
            }
            Assert.All(Strings(Child(spec, "secrets")), s => Assert.True(secrets.Contains(s), $"{name} uses undeclared secret {s}"));
        }
        // Nothing but Envoy's ingress is published beyond the host's loopback.
        var published = Services().SelectMany(s => Strings(Child(s.Spec, "ports"))).ToList();
        Assert.Equal(["10000:10000"], published.Where(p => !p.StartsWith("127.0.0.1:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task EveryServiceCommand_PassesThatServicesOwnChecks()
    {
        var checkedCommands = 0;
        foreach (var (name, spec) in Services())
        {
            var image = Scalar(spec, "image")!;
            if (ServiceCommand.Service(image) is not ("xds-server" or "agent" or "ingester" or "egress"))
            {
                continue;
            }
            var env = Child(spec, "environment") is YamlMappingNode e ? e.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!) : [];
            var command = Strings(Child(spec, "command"));
            // A shell line (the agent's): each invocation of the service in it is checked.
            IEnumerable<List<string>> invocations = Scalar(spec, "entrypoint") is null && Child(spec, "entrypoint") is not YamlSequenceNode
                ? [command]
                : AgentInvocation().Matches(string.Join(' ', command)).Select(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList()).Where(a => a[0] != "enroll");
            if (ServiceCommand.Service(image) == "agent")
            {
                _commands.Enroll("/var/lib/zenmesh/agent");
            }
            foreach (var args in invocations)
            {
                var problems = await _commands.ProblemsAsync(image, args, env);
                Assert.True(problems.Count == 0, $"service {name} ({string.Join(' ', args)}): {string.Join(" ", problems)}");
                checkedCommands++;
            }
        }
        // xds-server, agent bootstrap, agent run, ingester, egress.
        Assert.Equal(5, checkedCommands);
    }

    [Fact]
    public async Task TheMeshFile_IsAcceptedByTheFlowApi()
    {
        await using var server = await RunningServer.StartAsync();

        using var response = await server.Http.PostAsync("/api/v1/apply", new StringContent(await File.ReadAllTextAsync(Path.Combine(Directory, "mesh.yaml")), System.Text.Encoding.UTF8, "application/yaml"));

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [GeneratedRegex(@"^[^:\s]+(/[^:\s]+)*:(?!latest$)[\w.-]+$")]
    private static partial Regex PinnedTag();

    [GeneratedRegex(@"^FROM \S+ AS (\S+)$")]
    private static partial Regex Stage();

    [GeneratedRegex(@"ZenMesh\.Agent\.dll ([^;&}]+)")]
    private static partial Regex AgentInvocation();
}
