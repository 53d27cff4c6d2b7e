using System.CommandLine;
using System.Net;
using System.Text.Json;

namespace ZenMesh.Cli;

/// <summary>
/// zenmesh: apply, get, delete, diff, status and token against a ZenMesh control plane.
/// Server from --server or ZENMESH_SERVER (default http://127.0.0.1:8080); token from --token,
/// ZENMESH_TOKEN, or ./data/admin-token when the server runs locally.
/// </summary>
public static class ZenMeshCli
{
    private static readonly string[] Kinds = ["edges", "endpoints", "targets", "flows"];
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?>? environment = null)
    {
        string? Env(string name) => environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);
        var server = new Option<string>("--server") { Description = "Control plane admin/API address (env ZENMESH_SERVER).", Recursive = true, DefaultValueFactory = _ => Env("ZENMESH_SERVER") ?? "http://127.0.0.1:8080" };
        var token = new Option<string?>("--token") { Description = "API token (env ZENMESH_TOKEN; default: ./data/admin-token if present).", Recursive = true };
        var tenant = new Option<string?>("--tenant") { Description = "With the operator's token: the tenant to act in (env ZENMESH_TENANT; default: default).", Recursive = true };
        var ca = new Option<string?>("--ca") { Description = "PEM file of the CA that signed the server's certificate, for --http-tls (env ZENMESH_CA; e.g. <data-dir>/ca/ca.crt).", Recursive = true };
        var root = new RootCommand("zenmesh: declare webhook flows and see them delivered through Envoy.") { server, token, tenant, ca };

        ApiClient Client(ParseResult parse)
        {
            var value = parse.GetValue(token) ?? Env("ZENMESH_TOKEN") ?? (File.Exists("data/admin-token") ? File.ReadAllText("data/admin-token").Trim() : null);
            return new ApiClient(ApiClient.Create(new Uri(parse.GetValue(server)!), value, parse.GetValue(tenant) ?? Env("ZENMESH_TENANT"), parse.GetValue(ca) ?? Env("ZENMESH_CA")), error);
        }

        var file = new Option<string>("--file", "-f") { Description = "YAML or JSON bundle: {edges: {name: spec}, endpoints: ..., targets: ..., flows: ...}.", Required = true };
        var prune = new Option<bool>("--prune") { Description = "Delete what the bundle does not mention." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Say what would change; change nothing." };
        var apply = new Command("apply", "Apply a bundle of desired state (idempotent).") { file, prune, dryRun };
        apply.SetAction((parse, ct) => ApplyAsync(Client(parse), output, error, parse.GetValue(file)!, parse.GetValue(prune), parse.GetValue(dryRun), diff: false, ct));
        root.Subcommands.Add(apply);

        var diff = new Command("diff", "Show what applying a bundle would change. Exit code 3 when something would.") { file, prune };
        diff.SetAction((parse, ct) => ApplyAsync(Client(parse), output, error, parse.GetValue(file)!, parse.GetValue(prune), dryRun: true, diff: true, ct));
        root.Subcommands.Add(diff);

        var kind = new Argument<string>("kind") { Description = "edges, endpoints, targets or flows." };
        kind.AcceptOnlyFromAmong(Kinds);
        var name = new Argument<string?>("name") { Description = "One resource; all of the kind when left out.", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--output", "-o") { Description = "table or json.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var get = new Command("get", "Show desired state.") { kind, name, format };
        get.SetAction((parse, ct) => GetAsync(Client(parse), output, parse.GetValue(kind)!, parse.GetValue(name), parse.GetValue(format) == "json", ct));
        root.Subcommands.Add(get);

        var deleteName = new Argument<string>("name") { Description = "The resource to delete." };
        var delete = new Command("delete", "Delete a resource.") { kind, deleteName };
        delete.SetAction(async (parse, ct) =>
        {
            using var client = Client(parse);
            var path = $"/api/v1/{parse.GetValue(kind)}/{parse.GetValue(deleteName)}";
            var answer = await client.SendAsync(HttpMethod.Delete, path, cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.NoContent)
            {
                return await client.RefusedAsync(a);
            }
            await output.WriteLineAsync($"deleted {parse.GetValue(kind)}/{parse.GetValue(deleteName)}");
            return ExitCodes.Ok;
        });
        root.Subcommands.Add(delete);

        var status = new Command("status", "Each edge: online, synced, pushed version, staleness, last NACK.");
        status.SetAction((parse, ct) => StatusAsync(Client(parse), output, ct));
        root.Subcommands.Add(status);

        root.Subcommands.Add(TokenCommand(Client, output));
        root.Subcommands.Add(TenantCommand(Client, output));
        root.Subcommands.Add(EnrollCommand(Client, output));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync($"error: {e.Message}");
            }
            await error.WriteLineAsync("Run 'zenmesh --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
    }

    private static async Task<int> ApplyAsync(ApiClient client, TextWriter output, TextWriter error, string path, bool prune, bool dryRun, bool diff, CancellationToken ct)
    {
        using var _ = client;
        if (!File.Exists(path))
        {
            await error.WriteLineAsync($"error: no file '{path}' (working directory {Environment.CurrentDirectory}).");
            return ExitCodes.Usage;
        }
        var text = await File.ReadAllTextAsync(path, ct);
        var contentType = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "application/yaml";
        var answer = await client.SendAsync(HttpMethod.Post, $"/api/v1/apply?prune={prune.ToString().ToLowerInvariant()}&dryRun={dryRun.ToString().ToLowerInvariant()}", text, contentType, ct);
        if (answer is not { } a)
        {
            return ExitCodes.Unreachable;
        }
        if (a.Status != HttpStatusCode.OK)
        {
            return await client.RefusedAsync(a);
        }
        var changes = a.Body.GetProperty("changes").EnumerateArray().Select(c => (IReadOnlyList<string>)[c.GetProperty("action").GetString()!, c.GetProperty("kind").GetString()!, c.GetProperty("name").GetString()!]).ToList();
        if (changes.Count == 0)
        {
            await output.WriteLineAsync(diff ? "no differences" : "unchanged");
            return ExitCodes.Ok;
        }
        Table.Write(output, [diff || dryRun ? "WOULD" : "DONE", "KIND", "NAME"], changes);
        return diff ? ExitCodes.ChangesPending : ExitCodes.Ok;
    }

    private static async Task<int> GetAsync(ApiClient client, TextWriter output, string kind, string? name, bool json, CancellationToken ct)
    {
        using var _ = client;
        var answer = await client.SendAsync(HttpMethod.Get, name is null ? $"/api/v1/{kind}" : $"/api/v1/{kind}/{name}", cancellationToken: ct);
        if (answer is not { } a)
        {
            return ExitCodes.Unreachable;
        }
        if (a.Status != HttpStatusCode.OK)
        {
            return await client.RefusedAsync(a);
        }
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(a.Body, Indented));
            return ExitCodes.Ok;
        }
        var items = name is null
            ? a.Body.GetProperty("items").EnumerateArray().Select(i => (i.GetProperty("name").GetString()!, i.GetProperty("spec"))).ToList()
            : [(name, a.Body)];
        Table.Write(output, ["NAME", .. Columns(kind).Select(c => c.ToUpperInvariant())], items.Select(i => (IReadOnlyList<string>)[i.Item1, .. Columns(kind).Select(c => Cell(i.Item2, c))]));
        return ExitCodes.Ok;
    }

    private static string[] Columns(string kind) => kind switch
    {
        "edges" => ["mode", "ingesterAddress"],
        "endpoints" => ["edge", "provider", "secretRef", "path"],
        "targets" => ["edge", "url", "connectTimeout"],
        _ => ["endpoint", "target", "maxInFlight", "timeout", "enabled"],
    };

    private static string Cell(JsonElement spec, string field) =>
        spec.TryGetProperty(field, out var value) ? value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText() : "-";

    private static async Task<int> StatusAsync(ApiClient client, TextWriter output, CancellationToken ct)
    {
        using var _ = client;
        var answer = await client.SendAsync(HttpMethod.Get, "/api/v1/status", cancellationToken: ct);
        if (answer is not { } a)
        {
            return ExitCodes.Unreachable;
        }
        if (a.Status != HttpStatusCode.OK)
        {
            return await client.RefusedAsync(a);
        }
        Table.Write(output, ["EDGE", "ONLINE", "SYNCED", "VERSION", "STALE", "LAST NACK"], a.Body.GetProperty("edges").EnumerateArray().Select(e => (IReadOnlyList<string>)
        [
            e.GetProperty("edge").GetString()!,
            e.GetProperty("online").GetBoolean() ? "yes" : "no",
            e.GetProperty("synced").GetBoolean() ? "yes" : "no",
            e.GetProperty("configVersion").GetString()!,
            $"{e.GetProperty("staleSeconds").GetDouble():0}s",
            e.GetProperty("lastNack") is { ValueKind: JsonValueKind.Object } n ? $"{n.GetProperty("typeUrl").GetString()?.Split('.')[^1]}: {n.GetProperty("message").GetString()}" : "-",
        ]));
        return ExitCodes.Ok;
    }

    private static Command EnrollCommand(Func<ParseResult, ApiClient> client, TextWriter output)
    {
        var edge = new Argument<string>("edge") { Description = "The edge to enroll (it must exist)." };
        var file = new Option<string>("--output", "-o") { Description = "Where to write the bundle (mode 0600).", Required = true };
        var ttl = new Option<string?>("--ttl") { Description = "How long the bundle can be used, e.g. 15m (default) up to 24h." };
        var rotate = new Option<bool>("--rotate") { Description = "Revoke the edge's current credentials first (its agent must enroll again)." };
        var enroll = new Command("enroll", "Create a one-time enrollment bundle for an edge's agent: 'agent enroll --bundle <file>'.") { edge, file, ttl, rotate };
        enroll.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var path = $"/api/v1/edges/{parse.GetValue(edge)}/{(parse.GetValue(rotate) ? "rotate" : "enrollment")}";
            var answer = await c.SendAsync(HttpMethod.Post, path, parse.GetValue(ttl) is { } t ? JsonSerializer.Serialize(new { ttl = t }) : null, cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.Created)
            {
                return await c.RefusedAsync(a);
            }
            var target = parse.GetValue(file)!;
            // Created owner-only from its first byte: the bundle's token enrolls an edge.
            ZenMesh.Secrets.SecretFile.Write(target, JsonSerializer.Serialize(a.Body, Indented));
            await output.WriteLineAsync($"wrote the enrollment bundle of {a.Body.GetProperty("edge").GetString()} to {target} (usable once, until {a.Body.GetProperty("expiresAt").GetString()}); on the edge: agent enroll --bundle {Path.GetFileName(target)}");
            return ExitCodes.Ok;
        });
        return enroll;
    }

    private static Command TenantCommand(Func<ParseResult, ApiClient> client, TextWriter output)
    {
        var tenant = new Command("tenant", "Manage tenants (the operator's token).");
        var createName = new Argument<string>("name") { Description = "The new tenant's name." };
        var create = new Command("create", "Create a tenant; its first admin token is printed once.") { createName };
        create.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Post, "/api/v1/tenants", JsonSerializer.Serialize(new { name = parse.GetValue(createName) }), cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.Created)
            {
                return await c.RefusedAsync(a);
            }
            await output.WriteLineAsync($"created tenant {a.Body.GetProperty("name").GetString()}; its first admin token (shown once):");
            await output.WriteLineAsync(a.Body.GetProperty("token").GetString());
            return ExitCodes.Ok;
        });
        var list = new Command("list", "List tenants and how many edges each has.");
        list.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Get, "/api/v1/tenants", cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.OK)
            {
                return await c.RefusedAsync(a);
            }
            Table.Write(output, ["NAME", "EDGES", "CREATED"], a.Body.GetProperty("items").EnumerateArray().Select(t => (IReadOnlyList<string>)
            [
                t.GetProperty("name").GetString()!,
                t.GetProperty("edges").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
                t.GetProperty("createdAt").ValueKind == JsonValueKind.String ? t.GetProperty("createdAt").GetDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "-",
            ]));
            return ExitCodes.Ok;
        });
        var deleteName = new Argument<string>("name") { Description = "The tenant to delete (it must have no edges)." };
        var delete = new Command("delete", "Delete a tenant with no edges; its tokens are revoked.") { deleteName };
        delete.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Delete, $"/api/v1/tenants/{parse.GetValue(deleteName)}", cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.NoContent)
            {
                return await c.RefusedAsync(a);
            }
            await output.WriteLineAsync($"deleted tenant {parse.GetValue(deleteName)}");
            return ExitCodes.Ok;
        });
        tenant.Subcommands.Add(create);
        tenant.Subcommands.Add(list);
        tenant.Subcommands.Add(delete);
        return tenant;
    }

    private static Command TokenCommand(Func<ParseResult, ApiClient> client, TextWriter output)
    {
        var token = new Command("token", "Manage API tokens of your tenant (admin).");
        var tokenName = new Option<string>("--name") { Description = "What the token is for.", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, editor or admin.", DefaultValueFactory = _ => "viewer" };
        role.AcceptOnlyFromAmong("viewer", "editor", "admin");
        var create = new Command("create", "Create a token; its value is printed once.") { tokenName, role };
        create.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Post, "/api/v1/tokens", JsonSerializer.Serialize(new { name = parse.GetValue(tokenName), role = parse.GetValue(role) }), cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.Created)
            {
                return await c.RefusedAsync(a);
            }
            await output.WriteLineAsync(a.Body.GetProperty("token").GetString());
            return ExitCodes.Ok;
        });
        var list = new Command("list", "List tokens (never their values).");
        list.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Get, "/api/v1/tokens", cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.OK)
            {
                return await c.RefusedAsync(a);
            }
            Table.Write(output, ["ID", "NAME", "ROLE", "CREATED"], a.Body.GetProperty("items").EnumerateArray().Select(t => (IReadOnlyList<string>)[t.GetProperty("id").GetString()!, t.GetProperty("name").GetString()!, t.GetProperty("role").GetString()!, t.GetProperty("createdAt").GetDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture)]));
            return ExitCodes.Ok;
        });
        var id = new Argument<string>("id") { Description = "The token's id (from 'token list')." };
        var revoke = new Command("revoke", "Revoke a token.") { id };
        revoke.SetAction(async (parse, ct) =>
        {
            using var c = client(parse);
            var answer = await c.SendAsync(HttpMethod.Delete, $"/api/v1/tokens/{parse.GetValue(id)}", cancellationToken: ct);
            if (answer is not { } a)
            {
                return ExitCodes.Unreachable;
            }
            if (a.Status != HttpStatusCode.NoContent)
            {
                return await c.RefusedAsync(a);
            }
            await output.WriteLineAsync($"revoked {parse.GetValue(id)}");
            return ExitCodes.Ok;
        });
        token.Subcommands.Add(create);
        token.Subcommands.Add(list);
        token.Subcommands.Add(revoke);
        return token;
    }
}
