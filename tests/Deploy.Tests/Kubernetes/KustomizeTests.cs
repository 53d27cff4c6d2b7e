using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.XdsServer.Tests.RealEnvoy;

namespace ZenMesh.Deploy.Tests.Kubernetes;

/// <summary>
/// deploy/kubernetes: each Kustomize base rendered (every file its kustomization lists, in order)
/// into typed Kubernetes objects, then checked for what an operator relies on: probes and resource
/// requests on every container, a disruption budget per workload, network policies that admit only
/// the intended ports, pinned Envoy, and arguments every service accepts.
/// </summary>
public sealed class KustomizeTests : IDisposable
{
    private readonly ServiceCommand _commands = new();

    public void Dispose() => _commands.Dispose();

    public static TheoryData<string> Bases => ["control-plane", "edge"];

    /// <summary>What 'kubectl apply -k' would send: the listed resources, each put in the kustomization's namespace.</summary>
    private static List<IKubernetesObject<V1ObjectMeta>> Render(string name)
    {
        var directory = RepoPaths.Combine("deploy", "kubernetes", name);
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(directory, "kustomization.yaml")))
        {
            stream.Load(reader);
        }
        var kustomization = (YamlMappingNode)stream.Documents.Single().RootNode;
        Assert.Equal("Kustomization", ((YamlScalarNode)kustomization["kind"]).Value);
        var ns = ((YamlScalarNode)kustomization["namespace"]).Value!;
        var objects = new List<IKubernetesObject<V1ObjectMeta>>();
        foreach (var file in ((YamlSequenceNode)kustomization["resources"]).Children.Cast<YamlScalarNode>().Select(f => f.Value!))
        {
            var path = Path.Combine(directory, file);
            Assert.True(File.Exists(path), $"{name}/kustomization.yaml lists {file}, which does not exist");
            foreach (var loaded in KubernetesYaml.LoadAllFromString(File.ReadAllText(path)))
            {
                var typed = Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(loaded);
                if (typed is not V1Namespace)
                {
                    typed.Metadata.NamespaceProperty = ns;
                }
                objects.Add(typed);
            }
        }
        Assert.Contains(objects, o => o is V1Namespace n && n.Metadata.Name == ns);
        return objects;
    }

    private static IEnumerable<(string Kind, string Name, V1PodTemplateSpec Template, int Replicas)> Workloads(List<IKubernetesObject<V1ObjectMeta>> objects) =>
        objects.Select(o => o switch
        {
            V1Deployment d => (Kind: "Deployment", d.Metadata.Name, d.Spec.Template, Replicas: d.Spec.Replicas ?? 1),
            V1StatefulSet s => (Kind: "StatefulSet", s.Metadata.Name, s.Spec.Template, Replicas: s.Spec.Replicas ?? 1),
            _ => default,
        }).Where(w => w.Kind is not null);

    private static bool Selects(V1LabelSelector selector, IDictionary<string, string> labels) =>
        selector.MatchLabels.All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value);

    [Theory]
    [MemberData(nameof(Bases))]
    public void EveryContainer_HasProbesRequestsAndNoRoot(string name)
    {
        var workloads = Workloads(Render(name)).ToList();

        Assert.NotEmpty(workloads);
        foreach (var (kind, workload, template, _) in workloads)
        {
            Assert.True(template.Spec.SecurityContext.RunAsNonRoot, $"{kind} {workload} must run as non-root");
            Assert.False(template.Spec.AutomountServiceAccountToken ?? true, $"{kind} {workload} needs no Kubernetes API token");
            foreach (var container in template.Spec.Containers)
            {
                var where = $"{kind} {workload}, container {container.Name}";
                Assert.True(container.ReadinessProbe is not null && container.LivenessProbe is not null, $"{where} needs readiness and liveness probes");
                Assert.True(container.Resources?.Requests?.ContainsKey("cpu") == true && container.Resources.Requests.ContainsKey("memory"), $"{where} needs cpu and memory requests");
                Assert.False(container.SecurityContext?.AllowPrivilegeEscalation ?? true, $"{where} must not allow privilege escalation");
                // A probe names a port the container declares.
                foreach (var port in new[] { container.ReadinessProbe!.HttpGet?.Port, container.ReadinessProbe.TcpSocket?.Port, container.LivenessProbe!.HttpGet?.Port }.OfType<IntOrString>())
                {
                    Assert.True(container.Ports.Any(p => p.Name == port.Value || p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == port.Value), $"{where} probes port {port.Value}, which it does not declare");
                }
            }
            Assert.All(template.Spec.InitContainers ?? [], c => Assert.True(c.Resources?.Requests?.ContainsKey("memory") == true, $"{kind} {workload}, init container {c.Name} needs requests"));
        }
    }

    [Fact]
    public void ListenersNoOneOutsideThePodNeeds_StayOnLoopback_AndNoSecretIsAnArgument()
    {
        // The edge's: the control plane serves xDS and its API beyond the pod, over TLS, on purpose.
        var containers = Workloads(Render("edge"))
            .SelectMany(w => (w.Template.Spec.InitContainers ?? []).Concat(w.Template.Spec.Containers)).ToList();

        foreach (var container in containers)
        {
            var args = container.Args ?? [];
            // Envoy's admin (it can drain and stop Envoy), the ingester's job stream (every job carries a body),
            // the agent's status and admin views, the webhook port behind Envoy, the egress's API: the
            // kubelet probes each service's health port instead.
            foreach (var flag in new[] { "--admin-address", "--stream-bind", "--status-bind", "--bind" })
            {
                var at = args.IndexOf(flag);
                Assert.True(at < 0 || args[at + 1] is "127.0.0.1" or "::1", $"container {container.Name} binds {flag} {(at < 0 ? "" : args[at + 1])}");
            }
        }
        foreach (var container in new[] { "control-plane", "edge" }.SelectMany(b => Workloads(Render(b))).SelectMany(w => (w.Template.Spec.InitContainers ?? []).Concat(w.Template.Spec.Containers)))
        {
            Assert.DoesNotContain(container.Args ?? [], a => a.Contains("$(", StringComparison.Ordinal) || a.StartsWith("--postgres", StringComparison.Ordinal));
        }
        Assert.DoesNotContain(containers.SelectMany(c => c.Ports ?? []), p => p.ContainerPort is 9901 or 8091 or 19000 or 8081 or 8082);
    }

    [Theory]
    [MemberData(nameof(Bases))]
    public void EveryWorkload_HasMoreThanOneReplica_AndADisruptionBudgetThatSelectsIt(string name)
    {
        var objects = Render(name);
        var budgets = objects.OfType<V1PodDisruptionBudget>().ToList();

        foreach (var (kind, workload, template, replicas) in Workloads(objects))
        {
            Assert.True(replicas >= 2, $"{kind} {workload} has {replicas} replica(s); a disruption budget of minAvailable 1 then blocks every drain");
            var budget = Assert.Single(budgets, b => Selects(b.Spec.Selector, template.Metadata.Labels));
            Assert.Equal("1", budget.Spec.MinAvailable?.Value);
        }
    }

    [Fact]
    public void TheEdge_AdmitsOnlyWebhooks_AndDialsOut()
    {
        var objects = Render("edge");
        var pod = Workloads(objects).Single().Template;
        var policy = Assert.Single(objects.OfType<V1NetworkPolicy>(), p => Selects(p.Spec.PodSelector, pod.Metadata.Labels));

        Assert.Equal(["Ingress", "Egress"], policy.Spec.PolicyTypes);
        var admitted = policy.Spec.Ingress.SelectMany(r => r.Ports).Select(p => p.Port.Value).ToList();
        Assert.Equal(["10000"], admitted);
        var envoy = pod.Spec.Containers.Single(c => c.Name == "envoy");
        Assert.Equal(10000, envoy.Ports.Single(p => p.Name == "webhooks").ContainerPort);
        var allowedOut = policy.Spec.Egress.SelectMany(r => r.Ports).Select(p => p.Port.Value).ToHashSet();
        Assert.Superset(new HashSet<string> { "53", "18000", "5432" }, allowedOut);
        // The service in front of the edge routes to Envoy's ingress, nothing else.
        var webhooks = objects.OfType<V1Service>().Single(s => s.Spec.ClusterIP != "None");
        Assert.Equal("webhooks", webhooks.Spec.Ports.Single().TargetPort.Value);
    }

    [Fact]
    public void TheControlPlane_AdmitsXdsFromAnywhere_AndItsApiOnlyFromItsNamespace()
    {
        var objects = Render("control-plane");
        var policy = objects.OfType<V1NetworkPolicy>().Single();

        var open = policy.Spec.Ingress.Where(r => r.FromProperty is null).SelectMany(r => r.Ports).Select(p => p.Port.Value);
        Assert.Equal(["18000"], open);
        var api = policy.Spec.Ingress.Single(r => r.FromProperty is not null);
        Assert.Equal(["8080"], api.Ports.Select(p => p.Port.Value));
        Assert.All(api.FromProperty, f => Assert.True(f.PodSelector is not null && f.NamespaceSelector is null, "the API is open only to pods of this namespace"));
    }

    [Fact]
    public void Envoy_IsThePinnedRelease()
    {
        var images = new[] { "control-plane", "edge" }.SelectMany(b => Workloads(Render(b)).SelectMany(w => w.Template.Spec.Containers.Select(c => c.Image))).ToList();

        Assert.Equal([PinnedEnvoy.Image], images.Where(i => i.StartsWith("envoyproxy/", StringComparison.Ordinal)).Distinct());
    }

    [Theory]
    [MemberData(nameof(Bases))]
    public async Task EveryZenMeshContainer_PassesThatServicesOwnChecks(string name)
    {
        var templates = Workloads(Render(name)).Select(w => w.Template).ToList();
        _commands.Enroll("/var/lib/zenmesh/agent");
        var checkedContainers = 0;

        foreach (var container in templates.SelectMany(t => (t.Spec.InitContainers ?? []).Concat(t.Spec.Containers)))
        {
            if (container.Image.StartsWith("envoyproxy/", StringComparison.Ordinal) || container.Command is not null)
            {
                continue;
            }
            var env = (container.Env ?? []).ToDictionary(e => e.Name, e => e.Value ?? $"$({e.Name})");
            var problems = await _commands.ProblemsAsync(container.Image, [.. container.Args], env);
            Assert.True(problems.Count == 0, $"container {container.Name} ({string.Join(' ', container.Args)}): {string.Join(" ", problems)}");
            checkedContainers++;
        }
        // control plane: xds-server; edge: envoy-bootstrap, agent, ingester, egress.
        Assert.Equal(name == "edge" ? 4 : 1, checkedContainers);
    }
}
