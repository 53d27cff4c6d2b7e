// ZenMesh Agent: the edge agent (enrollment, outbound-only sync, last-known-good xDS relay).
// Not built yet: its issue follows the control plane. Until then it only answers /healthz on its
// default port, so the layout and the solution are complete and runnable.
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUrls(builder.Configuration["urls"] ?? "http://127.0.0.1:19000");
var app = builder.Build();
app.MapGet("/healthz", () => Results.Json(new { service = "agent", status = "skeleton", note = "not implemented yet; see the open issue for the agent" }));
await app.RunAsync().ConfigureAwait(false);
