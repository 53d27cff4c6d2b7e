using System.Globalization;
using ZenMesh.Agent.Identity;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>
/// "agent bootstrap --out envoy.yaml": the edge Envoy's bootstrap, pointed at this agent. Loopback
/// by default; --agent-address names the agent where Envoy runs in another container,
/// --admin-address opens Envoy's admin beyond loopback (only where a network policy guards it).
/// With --direct, the data-plane bootstrap instead: Envoy takes xDS straight from the control plane
/// over mutual TLS with the edge's enrolled credential.
/// </summary>
public static class BootstrapCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var direct = args.Contains("--direct");
        var outFile = Value("--out") is { Length: > 0 } named ? Path.GetFullPath(named) : null;
        var stateDir = Value("--state-dir") ?? "./agent-state";
        var enrolled = Value("--edge") is null || (direct && Value("--control-plane") is null) ? CredentialFiles.Load(stateDir) : null;
        var edge = Value("--edge") ?? enrolled?.NodeId;
        var problems = new List<string>();
        if (outFile is null)
        {
            problems.Add("--out is missing: name the file to write, e.g. --out envoy.yaml.");
        }
        if (edge is null || edge.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            problems.Add($"--edge is '{edge}'; name the edge as tenant/edge (or enroll first, and it is taken from the credential in {stateDir}).");
        }
        var adminPort = Port(Value("--admin-port"), 9901, "--admin-port", problems);
        var adminAddress = Address(Value("--admin-address"), "--admin-address", problems);
        if (direct)
        {
            var controlPlane = ControlPlane(Value("--control-plane") ?? enrolled?.ControlPlane, stateDir, problems);
            var credentials = Value("--credential-dir") ?? CredentialFiles.Directory(stateDir);
            if (problems.Count > 0)
            {
                return await FailAsync(error, problems).ConfigureAwait(false);
            }
            var rendered = DataPlaneBootstrap.Render(await File.ReadAllTextAsync(DataPlaneBootstrap.TemplatePath).ConfigureAwait(false), edge!, controlPlane!, credentials, adminPort, adminAddress);
            await WriteAsync(outFile!, rendered).ConfigureAwait(false);
            await output.WriteLineAsync($"wrote the data-plane Envoy bootstrap of edge {edge} to {outFile}: delta ADS straight to the control plane at {controlPlane} over mutual TLS with the credential in {Path.GetFullPath(credentials)}, admin on {adminAddress}:{adminPort}. Envoy must be able to read that directory. Start Envoy with: envoy -c {outFile}").ConfigureAwait(false);
            return 0;
        }
        var xdsPort = Port(Value("--xds-port"), 18001, "--xds-port", problems);
        var agentAddress = Address(Value("--agent-address"), "--agent-address", problems);
        if (problems.Count > 0)
        {
            return await FailAsync(error, problems).ConfigureAwait(false);
        }
        var edgeRendered = EdgeBootstrap.Render(await File.ReadAllTextAsync(EdgeBootstrap.TemplatePath).ConfigureAwait(false), edge!, xdsPort, adminPort, agentAddress, adminAddress);
        await WriteAsync(outFile!, edgeRendered).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote the Envoy bootstrap of edge {edge} to {outFile}: delta ADS to the agent on {agentAddress}:{xdsPort}, admin on {adminAddress}:{adminPort}. Start Envoy with: envoy -c {outFile}").ConfigureAwait(false);
        return 0;
    }

    private static async Task WriteAsync(string file, string text)
    {
        // An init container or a fresh VM may not have the directory yet.
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, text).ConfigureAwait(false);
    }

    private static async Task<int> FailAsync(TextWriter error, List<string> problems)
    {
        await error.WriteLineAsync(string.Join(Environment.NewLine, problems)).ConfigureAwait(false);
        return 2;
    }

    private static Uri? ControlPlane(string? text, string stateDir, List<string> problems)
    {
        if (text is null)
        {
            problems.Add($"--control-plane is missing: name the control plane's xDS address, e.g. --control-plane https://zenmesh-xds:18000 (or enroll first, and it is taken from the credential in {stateDir}).");
            return null;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            problems.Add($"--control-plane is '{text}'; an Envoy without an agent needs mutual TLS, so use the control plane's https:// xDS address, e.g. https://zenmesh-xds:18000.");
            return null;
        }
        return uri;
    }

    private static string Address(string? text, string name, List<string> problems)
    {
        if (text is null)
        {
            return "127.0.0.1";
        }
        // A host name or an IP literal; anything else would break the YAML or Envoy's resolver.
        if (text.Length is > 0 and <= 253 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':'))
        {
            return text;
        }
        problems.Add($"{name} is '{text}'; use a host name or an IP address, e.g. {name} agent.");
        return "127.0.0.1";
    }

    private static int Port(string? text, int fallback, string name, List<string> problems)
    {
        if (text is null)
        {
            return fallback;
        }
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535)
        {
            return port;
        }
        problems.Add($"{name} is '{text}'; use a port from 1 to 65535.");
        return fallback;
    }
}
