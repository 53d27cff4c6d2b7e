using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.LastKnownGood;

/// <summary>
/// The TLS material a target's cluster names (its CA, the edge's client certificate): secrets held
/// at the edge, one file per name in its secrets directory, served to the local Envoy over SDS.
/// Added to what the relay serves, never to what is stored or sent upstream.
/// </summary>
public static class EdgeSecrets
{
    /// <summary>The secret names the clusters of <paramref name="snapshot"/> ask SDS for: (name, is a certificate with its key).</summary>
    public static IReadOnlyList<(string Name, bool Certificate)> Referenced(Snapshot snapshot)
    {
        var names = new SortedDictionary<string, bool>(StringComparer.Ordinal);
        foreach (var resource in snapshot.Get(TypeUrls.Cluster).Resources.Values)
        {
            var cluster = resource.Body.Unpack<Cluster>();
            if (cluster.TransportSocket?.TypedConfig is not { } config || !config.Is(UpstreamTlsContext.Descriptor))
            {
                continue;
            }
            var tls = config.Unpack<UpstreamTlsContext>().CommonTlsContext;
            if (tls is null)
            {
                continue;
            }
            if (tls.CombinedValidationContext?.ValidationContextSdsSecretConfig?.Name is { Length: > 0 } combined)
            {
                names[combined] = false;
            }
            if (tls.ValidationContextSdsSecretConfig?.Name is { Length: > 0 } validation)
            {
                names[validation] = false;
            }
            foreach (var certificate in tls.TlsCertificateSdsSecretConfigs)
            {
                names[certificate.Name] = true;
            }
        }
        return [.. names.Select(n => (n.Key, n.Value))];
    }

    /// <summary><paramref name="snapshot"/> with a Secret for each name it references that the directory holds (and the snapshot does not).</summary>
    public static Snapshot With(Snapshot snapshot, string? secretsDir)
    {
        if (secretsDir is null)
        {
            return snapshot;
        }
        var have = snapshot.Get(TypeUrls.Secret).Resources;
        var added = new List<XdsResource>();
        foreach (var (name, certificate) in Referenced(snapshot))
        {
            if (have.ContainsKey(name) || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or ".." || Path.Combine(secretsDir, name) is not { } file || !File.Exists(file))
            {
                continue;
            }
            var pem = File.ReadAllText(file);
            added.Add(XdsResource.Create(certificate ? CertificateSecret(name, pem) : new Secret { Name = name, ValidationContext = new CertificateValidationContext { TrustedCa = new Envoy.Config.Core.V3.DataSource { InlineString = pem } } }));
        }
        return added.Count == 0 ? snapshot : Snapshot.Create(snapshot.Types.Values.SelectMany(t => t.Resources.Values).Concat(added), snapshot.Source);
    }

    /// <summary>A client certificate file holds its chain and its private key, PEM blocks in any order.</summary>
    private static Secret CertificateSecret(string name, string pem)
    {
        var blocks = pem.Split("-----BEGIN ", StringSplitOptions.RemoveEmptyEntries).Where(b => b.Contains("-----END ", StringComparison.Ordinal)).Select(b => "-----BEGIN " + b.Trim()).ToImmutableArray();
        var key = string.Join("\n", blocks.Where(b => b.Contains("PRIVATE KEY", StringComparison.Ordinal)));
        var chain = string.Join("\n", blocks.Where(b => !b.Contains("PRIVATE KEY", StringComparison.Ordinal)));
        return new Secret
        {
            Name = name,
            TlsCertificate = new TlsCertificate
            {
                CertificateChain = new Envoy.Config.Core.V3.DataSource { InlineString = chain + "\n" },
                PrivateKey = new Envoy.Config.Core.V3.DataSource { InlineString = key + "\n" },
            },
        };
    }
}
