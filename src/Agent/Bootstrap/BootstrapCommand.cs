using System.Globalization;
using ZenMesh.Agent.Identity;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>"agent bootstrap --out envoy.yaml": the edge Envoy's bootstrap, pointed at this agent.</summary>
public static class BootstrapCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var outFile = Value("--out");
        var stateDir = Value("--state-dir") ?? "./agent-state";
        var edge = Value("--edge") ?? CredentialFiles.Load(stateDir)?.NodeId;
        var problems = new List<string>();
        if (outFile is null)
        {
            problems.Add("--out is missing: name the file to write, e.g. --out envoy.yaml.");
        }
        if (edge is null || edge.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            problems.Add($"--edge is '{edge}'; name the edge as tenant/edge (or enroll first, and it is taken from the credential in {stateDir}).");
        }
        var (xdsPort, adminPort) = (Port(Value("--xds-port"), 18001, "--xds-port", problems), Port(Value("--admin-port"), 9901, "--admin-port", problems));
        if (problems.Count > 0)
        {
            await error.WriteLineAsync(string.Join(Environment.NewLine, problems)).ConfigureAwait(false);
            return 2;
        }
        var rendered = EdgeBootstrap.Render(await File.ReadAllTextAsync(EdgeBootstrap.TemplatePath).ConfigureAwait(false), edge!, xdsPort, adminPort);
        await File.WriteAllTextAsync(outFile!, rendered).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote the Envoy bootstrap of edge {edge} to {outFile}: delta ADS to the agent on 127.0.0.1:{xdsPort}, admin on 127.0.0.1:{adminPort}. Start Envoy with: envoy -c {outFile}").ConfigureAwait(false);
        return 0;
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
