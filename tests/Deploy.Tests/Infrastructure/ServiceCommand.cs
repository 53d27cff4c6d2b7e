using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Identity;
using ZenMesh.Egress.Hosting;
using ZenMesh.Ingester.Hosting;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.Deploy.Tests.Infrastructure;

/// <summary>
/// A service's command line as a deployment file writes it, checked by that service's own option
/// parsing and validation (the same code that refuses to start on a bad value). Container paths are
/// moved under a scratch root, environment settings become the configuration keys they stand for,
/// and $(VAR) / ${VAR} references get a plausible value, so what is checked is the deployment's
/// choice of flags and values, not this machine's file system.
/// </summary>
internal sealed partial class ServiceCommand : IDisposable
{
    public const string EdgeNodeId = "default/edge-1";
    private static readonly string[] ContainerRoots = ["/var/lib/zenmesh", "/var/run/zenmesh", "/etc/envoy", "/etc/zenmesh"];
    private readonly string _root = Directory.CreateTempSubdirectory("zenmesh-deploy-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Where a container path lands under the scratch root.</summary>
    public string Local(string path) => ContainerRoots.Aggregate(path, (p, root) => p.Replace(root, _root + root, StringComparison.Ordinal));

    /// <summary>An enrolled agent state directory (a self-signed stand-in credential naming the edge as the control plane's do), as the agent finds after 'agent enroll'.</summary>
    public void Enroll(string containerStateDir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + EdgeNodeId, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("spiffe://zenmesh/" + EdgeNodeId));
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pem = certificate.ExportCertificatePem();
        CredentialFiles.Save(Local(containerStateDir), EdgeNodeId, "https://xds.example.com:18000", pem, pem, key, pem);
    }

    /// <summary>
    /// Checks one service's arguments; returns the problems its validation reports (empty: accepted).
    /// <paramref name="image"/> names the service (zenmesh/agent, ...); <paramref name="env"/> is the container's environment.
    /// </summary>
    public async Task<IReadOnlyList<string>> ProblemsAsync(string image, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> env)
    {
        string[] local = [.. args.Select(a => Local(Expand(a, env)))];
        string[] settings = [.. env.SelectMany(e => EnvironmentSetting(image, e.Key, Local(Expand(e.Value, env))))];
        var service = Service(image);
        if (service == "agent" && local is ["bootstrap", .. var bootstrap])
        {
            var error = new StringWriter();
            return await BootstrapCommand.RunAsync(bootstrap, TextWriter.Null, error) == 0 ? [] : error.ToString().Trim().Split(Environment.NewLine);
        }
        Func<string[], Action<WebApplicationBuilder>, WebApplication> build = service switch
        {
            "xds-server" => XdsServerApp.Build,
            "agent" when local is ["run", ..] => (a, c) => AgentApp.Build(a[1..], c),
            "ingester" => IngesterApp.Build,
            "egress" => EgressApp.Build,
            _ => throw new InvalidOperationException($"no check for '{image}' with arguments {string.Join(' ', args)}"),
        };
        try
        {
            await using var app = build([.. local, .. settings], b => b.Logging.ClearProviders());
            return [];
        }
        catch (OptionsValidationException e)
        {
            return [.. e.Failures];
        }
    }

    public static string Service(string image) =>
        ImageName().Match(image) is { Success: true } m ? m.Groups[1].Value : image;

    /// <summary>What each environment variable a deployment sets means to the service, as configuration.</summary>
    private static IEnumerable<string> EnvironmentSetting(string image, string name, string value) => (Service(image), name) switch
    {
        (_, "ZENMESH_SECRETS_DIR") => [$"--{Section(image)}:SecretsDir={value}"],
        ("xds-server", "ZENMESH_ADMIN_TOKEN") => [$"--Xds:AdminToken={value}"],
        // Only referenced from the arguments ($(ZENMESH_POSTGRES)); nothing reads it directly.
        (_, "ZENMESH_POSTGRES") => [],
        // Configuration keys as .NET reads them from the environment (Section__Key).
        _ when name.Contains("__", StringComparison.Ordinal) && name.Split("__")[0] == Section(image) => [$"--{name.Replace("__", ":", StringComparison.Ordinal)}={value}"],
        _ => throw new InvalidOperationException($"the deployment sets {name} for {image}, which no ZenMesh service reads; remove it or teach this check what it means"),
    };

    private static string Section(string image) => Service(image) switch
    {
        "xds-server" => "Xds",
        "agent" => "Agent",
        "ingester" => "Ingester",
        "egress" => "Egress",
        var other => throw new InvalidOperationException($"unknown service {other}"),
    };

    /// <summary>$(VAR) (Kubernetes) and ${VAR} / ${VAR:?message} (compose) references, filled from the environment or a stand-in.</summary>
    private static string Expand(string text, IReadOnlyDictionary<string, string> env) =>
        Reference().Replace(text, m =>
        {
            var name = m.Groups["k8s"].Success ? m.Groups["k8s"].Value : m.Groups["compose"].Value;
            return name switch
            {
                "ZENMESH_POSTGRES" => "Host=postgres;Username=zenmesh;Password=secret;Database=zenmesh",
                _ when name.EndsWith("__Postgres", StringComparison.Ordinal) || name.EndsWith("__PostgresConnectionString", StringComparison.Ordinal) => "Host=postgres;Username=zenmesh;Password=secret;Database=zenmesh",
                // What an operator is told to generate: openssl rand -hex 32.
                _ when name.EndsWith("TOKEN", StringComparison.OrdinalIgnoreCase) || name.EndsWith("SECRET", StringComparison.OrdinalIgnoreCase) => "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                _ when env.TryGetValue(name, out var value) && !value.Contains(m.Value, StringComparison.Ordinal) => value,
                _ => "stand-in-" + name.ToLowerInvariant(),
            };
        });

    [GeneratedRegex(@"\$\((?<k8s>[A-Za-z_]+)\)|\$\{(?<compose>[A-Z_]+)(:[?-][^}]*)?\}")]
    private static partial Regex Reference();

    [GeneratedRegex(@"^(?:.*/)?zenmesh[/-]?(xds-server|agent|ingester|egress|cli)(?::.*)?$")]
    private static partial Regex ImageName();
}
