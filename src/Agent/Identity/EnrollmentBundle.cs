using System.Text.Json;

namespace ZenMesh.Agent.Identity;

/// <summary>What POST /api/v1/edges/{name}/enrollment returns and the operator hands to the agent.</summary>
public sealed record EnrollmentBundle(string Edge, string ControlPlane, bool Tls, string CaCertificate, string Token, DateTimeOffset ExpiresAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Reads a bundle file; every missing field is named, with where the bundle comes from.</summary>
    public static EnrollmentBundle Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new EnrollmentException($"No bundle file '{path}'. Get one with 'zenmesh enroll <edge> -o {path}' (or POST /api/v1/edges/<edge>/enrollment) and pass its path.");
        }
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
        }
        catch (JsonException e)
        {
            throw new EnrollmentException($"The bundle '{path}' is not JSON ({e.Message}); use the file the control plane returned, unchanged.");
        }
        var missing = new List<string>();
        string Text(string name)
        {
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s)
            {
                return s;
            }
            missing.Add(name);
            return "";
        }
        var bundle = new EnrollmentBundle(Text("edge"), Text("controlPlane"), root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tls", out var tls) && tls.ValueKind == JsonValueKind.True, Text("caCertificate"), Text("token"), DateTimeOffset.TryParse(Text("expiresAt"), System.Globalization.CultureInfo.InvariantCulture, out var at) ? at : default);
        if (missing.Count > 0)
        {
            throw new EnrollmentException($"The bundle '{path}' lacks {string.Join(", ", missing)}; use the file the control plane returned, unchanged.");
        }
        return bundle;
    }
}

/// <summary>Enrollment could not be done; the message says why and what to do.</summary>
public sealed class EnrollmentException(string message) : Exception(message);
