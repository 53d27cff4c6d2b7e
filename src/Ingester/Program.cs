using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;

// ZenMesh Ingester: verified, deduplicated, durable webhook intake. Endpoint config arrives over xDS
// (the next increment of its issue); until then no endpoint is known and every webhook gets 404.
try
{
    var app = IngesterApp.Build(args);
    await app.StartAsync().ConfigureAwait(false);
    var options = app.Services.GetRequiredService<IOptions<IngesterOptions>>().Value;
    // The bound addresses, not the configured ones: with port 0 the OS chose them.
    var endpoints = app.Services.GetRequiredService<IngesterEndpoints>();
    Console.WriteLine($"ZenMesh ingester: webhooks on {endpoints.Hooks.Uri}hooks/<tenant>/<endpoint>, the egress job stream on {endpoints.Stream.Uri}, events in {Path.GetFullPath(options.DataDir)}. Ctrl-C stops.");
    await app.WaitForShutdownAsync().ConfigureAwait(false);
    return 0;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}");
    return 2;
}
