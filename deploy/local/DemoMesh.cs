using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ZenMesh.LocalStack;

/// <summary>
/// What the local stack declares so a first webhook has somewhere to go: edge "local" of tenant
/// "default", a GitHub endpoint "demo" (signature checked with the secret "demo-github"), the echo
/// receiver as target "echo", and flow "demo-to-echo" signing its deliveries with "demo-signing"
/// (Standard Webhooks). Secrets are made once per data directory, random, and kept.
/// </summary>
public static class DemoMesh
{
    public const string Tenant = "default";
    public const string Edge = "local";
    public const string NodeId = $"{Tenant}/{Edge}";
    public const string Endpoint = "demo";
    public const string Flow = "demo-to-echo";
    public const string EndpointSecret = "demo-github";
    public const string SigningSecret = "demo-signing";

    /// <summary>The sample webhook: GitHub's ping, as GitHub sends it.</summary>
    /// <summary>
    /// A GitHub ping for delivery <paramref name="deliveryId"/>. Each delivery's body differs, as
    /// GitHub's do: the ingester deduplicates GitHub webhooks on their signed body, since GitHub does
    /// not sign X-GitHub-Delivery.
    /// </summary>
    public static string SampleBody(string deliveryId) => $$"""{"zen":"Design for failure.","hook_id":1,"hook":{"type":"Repository","events":["push"]},"sample":"{{deliveryId}}"}""";

    /// <summary>Writes the two demo secrets unless they exist (a rotation by hand survives a restart).</summary>
    public static void EnsureSecrets(string secretsDir)
    {
        Directory.CreateDirectory(secretsDir);
        Write(Path.Combine(secretsDir, EndpointSecret), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)));
        Write(Path.Combine(secretsDir, SigningSecret), "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

        static void Write(string path, string value)
        {
            if (File.Exists(path))
            {
                return;
            }
            ZenMesh.Secrets.SecretFile.Write(path, value + "\n");
        }
    }

    public static string ReadSecret(string secretsDir, string name) => File.ReadAllLines(Path.Combine(secretsDir, name)).First(l => l.Length > 0).Trim();

    /// <summary>
    /// The desired state, as one bundle for POST /api/v1/apply. <paramref name="ingester"/> is where the
    /// edge's Envoy finds the ingester; <paramref name="egressListener"/> the address its egress
    /// listener binds (all interfaces when Envoy runs in a container and the egress outside it).
    /// </summary>
    public static string Bundle(Uri echo, string ingester, string egressListener = "127.0.0.1") => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["edges"] = new Dictionary<string, object> { [Edge] = new { mode = "vm", ingesterAddress = ingester, egressListenerAddress = egressListener } },
        ["endpoints"] = new Dictionary<string, object> { [Endpoint] = new { edge = Edge, provider = "github", secretRef = EndpointSecret } },
        ["targets"] = new Dictionary<string, object> { ["echo"] = new { edge = Edge, url = echo.ToString(), allowLoopback = true } },
        ["flows"] = new Dictionary<string, object>
        {
            [Flow] = new { endpoint = Endpoint, target = "echo", signing = new { secretRef = SigningSecret } },
        },
    });

    /// <summary>The headers that make <see cref="SampleBody"/>(<paramref name="deliveryId"/>) a signed GitHub webhook with delivery id <paramref name="deliveryId"/>.</summary>
    public static IReadOnlyList<(string Name, string Value)> SampleHeaders(string endpointSecret, string deliveryId) =>
    [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "ping"),
        ("X-GitHub-Delivery", deliveryId),
        ("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(endpointSecret), Encoding.UTF8.GetBytes(SampleBody(deliveryId))))),
    ];

    /// <summary>A copy-paste curl sending the sample to <paramref name="hooks"/> (the ingester, or Envoy's ingress listener).</summary>
    public static string Curl(Uri hooks, string endpointSecret, string deliveryId)
    {
        var command = new StringBuilder("curl -si ").Append(new Uri(hooks, $"/hooks/{Tenant}/{Endpoint}"));
        foreach (var (name, value) in SampleHeaders(endpointSecret, deliveryId))
        {
            command.Append(CultureInfo.InvariantCulture, $" -H '{name}: {value}'");
        }
        return command.Append(" --data-raw '").Append(SampleBody(deliveryId)).Append('\'').ToString();
    }
}
