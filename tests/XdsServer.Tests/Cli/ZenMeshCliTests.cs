using ZenMesh.Cli;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Cli;

/// <summary>The zenmesh CLI against a running control plane: output people read, exit codes scripts trust.</summary>
public sealed class ZenMeshCliTests : IAsyncLifetime, IDisposable
{
    private const string Bundle = """
        edges:
          local: {mode: vm}
        endpoints:
          github-main: {edge: local, provider: github, secretRef: github-main}
        targets:
          orders: {edge: local, allowLoopback: true, url: "http://127.0.0.1:9100/hooks"}
        flows:
          github-to-orders: {endpoint: github-main, target: orders, maxInFlight: 64}
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-cli-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => await RunAsync(RunningServer.AdminToken, args);

    private async Task<(int Exit, string Out, string Err)> RunAsync(string? token, string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?> { ["ZENMESH_SERVER"] = _server.HttpUri.ToString(), ["ZENMESH_TOKEN"] = token };
        var exit = await ZenMeshCli.RunAsync(args, output, error, environment).WithTimeout($"zenmesh {string.Join(' ', args)}");
        return (exit, output.ToString(), error.ToString());
    }

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Apply_PrintsWhatChanged_ThenDiffFindsNothing_AndAChangedBundleIsExit3()
    {
        var bundle = File("mesh.yaml", Bundle);
        var (exit, output, _) = await RunAsync("apply", "-f", bundle);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal(
            """
            DONE     KIND       NAME
            created  edges      local
            created  endpoints  github-main
            created  targets    orders
            created  flows      github-to-orders

            """.ReplaceLineEndings(), output);

        var same = await RunAsync("diff", "-f", bundle);
        Assert.Equal((ExitCodes.Ok, $"no differences{Environment.NewLine}"), (same.Exit, same.Out));

        var changed = await RunAsync("diff", "-f", File("changed.yaml", Bundle.Replace("maxInFlight: 64", "maxInFlight: 8")));
        Assert.Equal(ExitCodes.ChangesPending, changed.Exit);
        Assert.Contains("updated  flows  github-to-orders", changed.Out);
        Assert.Equal(64, (await _server.GetJsonAsync("/api/v1/flows/github-to-orders")).GetProperty("maxInFlight").GetInt32());
    }

    [Fact]
    public async Task Enroll_WritesAOneTimeBundleForTheEdge_AndAnUnknownEdgeIsExit1()
    {
        await _server.PutOkAsync("edges/local", "{}");
        var target = Path.Combine(_dir, "bundle.json");

        var (exit, output, error) = await RunAsync("enroll", "local", "-o", target, "--ttl", "5m");

        Assert.True(exit == 0, error);
        Assert.StartsWith($"wrote the enrollment bundle of default/local to {target}", output);
        var bundle = System.Text.Json.JsonDocument.Parse(await System.IO.File.ReadAllTextAsync(target)).RootElement;
        Assert.StartsWith("zm_enroll_", bundle.GetProperty("token").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, System.IO.File.GetUnixFileMode(target));
        var (missingExit, _, missingError) = await RunAsync("enroll", "nowhere", "-o", target);
        Assert.Equal(1, missingExit);
        Assert.Contains("edges/nowhere does not exist in tenant 'default'", missingError);
    }

    [Fact]
    public async Task Get_ShowsATable_OrJson_AndDeleteRemoves()
    {
        await RunAsync("apply", "-f", File("mesh.yaml", Bundle));

        var table = await RunAsync("get", "flows");
        Assert.Equal(ExitCodes.Ok, table.Exit);
        Assert.Equal(
            """
            NAME              ENDPOINT     TARGET  MAXINFLIGHT  TIMEOUT  ENABLED
            github-to-orders  github-main  orders  64           30s      true

            """.ReplaceLineEndings(), table.Out);
        var json = await RunAsync("get", "targets", "orders", "-o", "json");
        Assert.Contains("\"url\": \"http://127.0.0.1:9100/hooks\"", json.Out);

        var deleted = await RunAsync("delete", "flows", "github-to-orders");
        Assert.Equal((ExitCodes.Ok, $"deleted flows/github-to-orders{Environment.NewLine}"), (deleted.Exit, deleted.Out));
        var missing = await RunAsync("delete", "flows", "github-to-orders");
        Assert.Equal(ExitCodes.Refused, missing.Exit);
        Assert.Equal($"error (404): flows/github-to-orders does not exist in tenant 'default'.{Environment.NewLine}", missing.Err);
    }

    [Fact]
    public async Task Apply_AnInvalidBundle_IsExit1_WithEveryProblemPrinted()
    {
        var (exit, _, error) = await RunAsync("apply", "-f", File("bad.yaml", Bundle.Replace("target: orders", "target: nowhere").Replace("provider: github,", "provider: pigeon,")));

        Assert.Equal(ExitCodes.Refused, exit);
        Assert.Equal(
            """
            error (422): The bundle was refused; nothing was changed. Fix every problem listed.
              - endpoints/github-main: field 'provider': is 'pigeon'; use one of stripe, github, standard-webhooks, shopify, slack, hmac-sha256, none.
              - flows/github-to-orders: field 'target': names targets/nowhere, which does not exist; create it first or fix the name.

            """.ReplaceLineEndings(), error);
    }

    [Fact]
    public async Task Status_ShowsEachEdge()
    {
        await RunAsync("apply", "-f", File("mesh.yaml", Bundle));
        var (exit, output, _) = await RunAsync("status");

        Assert.Equal(ExitCodes.Ok, exit);
        var lines = output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("EDGE   ONLINE  SYNCED  VERSION", lines[0]);
        Assert.StartsWith("local  no      no      ", lines[1]);
    }

    [Fact]
    public async Task Token_CreateListRevoke_AndAViewerCannotApply()
    {
        var (_, created, _) = await RunAsync("token", "create", "--name", "dashboard", "--role", "viewer");
        var viewer = created.Trim();
        Assert.StartsWith("zm_", viewer);

        var refused = await RunAsync(viewer, ["apply", "-f", File("mesh.yaml", Bundle)]);
        Assert.Equal(ExitCodes.Refused, refused.Exit);
        Assert.Equal($"error (403): This needs the editor role; the token 'dashboard' is viewer in tenant 'default'.{Environment.NewLine}", refused.Err);

        var (_, list, _) = await RunAsync("token", "list");
        var id = list.Split(Environment.NewLine).Single(l => l.Contains("dashboard", StringComparison.Ordinal)).Split(' ')[0];
        Assert.Equal(ExitCodes.Ok, (await RunAsync("token", "revoke", id)).Exit);
        Assert.Equal(ExitCodes.Refused, (await RunAsync(viewer, ["get", "flows"])).Exit);
    }

    [Fact]
    public async Task Tenant_CreateListDelete_AndTheOperatorActsInANamedTenant()
    {
        var (exit, created, _) = await RunAsync("tenant", "create", "acme");
        Assert.Equal(ExitCodes.Ok, exit);
        var lines = created.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("created tenant acme; its first admin token (shown once):", lines[0]);
        var acmeAdmin = lines[1];

        Assert.Equal(ExitCodes.Ok, (await RunAsync(acmeAdmin, ["apply", "-f", File("mesh.yaml", Bundle)])).Exit);
        var (_, listed, _) = await RunAsync("tenant", "list");
        Assert.Contains(listed.Split(Environment.NewLine), l => l.StartsWith("acme", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == "1");

        // The operator sees acme's flows only when it names acme.
        Assert.DoesNotContain("github-to-orders", (await RunAsync("get", "flows")).Out, StringComparison.Ordinal);
        Assert.Contains("github-to-orders", (await RunAsync("get", "flows", "--tenant", "acme")).Out, StringComparison.Ordinal);

        var refused = await RunAsync("tenant", "delete", "acme");
        Assert.Equal(ExitCodes.Refused, refused.Exit);
        Assert.StartsWith("error (409): Tenant 'acme' still has 1 edge(s); delete them (and what refers to them) first.", refused.Err, StringComparison.Ordinal);

        Assert.Equal(ExitCodes.Ok, (await RunAsync(acmeAdmin, ["apply", "--prune", "-f", File("empty.yaml", "{}")])).Exit);
        Assert.Equal(ExitCodes.Ok, (await RunAsync("tenant", "delete", "acme")).Exit);
        var revoked = await RunAsync(acmeAdmin, ["get", "flows"]);
        Assert.Equal($"error (401): The API token is not known (mistyped, or revoked). Ask an admin of your tenant for a new one.{Environment.NewLine}", revoked.Err);
    }

    [Fact]
    public async Task Tenant_ATenantsAdmin_CannotManageTenants()
    {
        var (_, created, _) = await RunAsync("tenant", "create", "acme");
        var acmeAdmin = created.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)[1];

        var refused = await RunAsync(acmeAdmin, ["tenant", "create", "evil"]);

        Assert.Equal(ExitCodes.Refused, refused.Exit);
        Assert.Equal($"error (403): This needs the operator role; the token 'first admin' is admin in tenant 'acme'.{Environment.NewLine}", refused.Err);
    }

    [Fact]
    public async Task TheCli_TrustsTheControlPlanesCa_ForTheFlowApiOverTls()
    {
        var dataDir = Directory.CreateTempSubdirectory("zenmesh-cli-tls-").FullName;
        await using var server = await RunningServer.StartAsync("--http-tls", "--data-dir", dataDir);
        var environment = new Dictionary<string, string?> { ["ZENMESH_SERVER"] = server.HttpUri.ToString(), ["ZENMESH_TOKEN"] = RunningServer.AdminToken };

        using var untrustedOut = new StringWriter();
        using var untrustedErr = new StringWriter();
        var untrusted = await ZenMeshCli.RunAsync(["get", "edges"], untrustedOut, untrustedErr, environment).WithTimeout("zenmesh without --ca");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var trusted = await ZenMeshCli.RunAsync(["get", "edges", "--ca", Path.Combine(dataDir, "ca", "ca.crt")], output, error, environment).WithTimeout("zenmesh --ca");

        Assert.Equal(ExitCodes.Unreachable, untrusted);
        Assert.Equal(ExitCodes.Ok, trusted);
        Assert.StartsWith("NAME", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageErrors_AreExit2_AndAnUnreachableServerIsExit4()
    {
        var badKind = await RunAsync("get", "widgets");
        Assert.Equal(ExitCodes.Usage, badKind.Exit);
        Assert.Contains("widgets", badKind.Err);

        var noFile = await RunAsync("apply", "-f", Path.Combine(_dir, "missing.yaml"));
        Assert.Equal(ExitCodes.Usage, noFile.Exit);

        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await ZenMeshCli.RunAsync(["status"], output, error, new Dictionary<string, string?> { ["ZENMESH_SERVER"] = "http://127.0.0.1:1", ["ZENMESH_TOKEN"] = "x" });
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.StartsWith("error: cannot reach the ZenMesh server at http://127.0.0.1:1/", error.ToString());
    }
}
