// ZenMesh Egress: signed, reliable delivery to targets through Envoy.
// Not built yet: its issue follows the control plane. Until then it only answers /healthz on its
// default port, so the layout and the solution are complete and runnable.
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUrls(builder.Configuration["urls"] ?? "http://127.0.0.1:8082");
var app = builder.Build();
app.MapGet("/healthz", () => Results.Json(new { service = "egress", status = "skeleton", note = "not implemented yet; see the open issue for the egress" }));
await app.RunAsync().ConfigureAwait(false);
