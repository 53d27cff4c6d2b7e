using Microsoft.Extensions.Options;
using ZenMesh.Hosting;
using ZenMesh.Ingester.Hosting;

// ZenMesh Ingester: verified, deduplicated, durable webhook intake; endpoint config arrives over xDS.
return await ServiceMain.RunAsync(
    () => IngesterApp.Build(args),
    app =>
    {
        var options = app.Services.GetRequiredService<IOptions<IngesterOptions>>().Value;
        // The bound addresses, not the configured ones: with port 0 the OS chose them.
        var endpoints = app.Services.GetRequiredService<IngesterEndpoints>();
        return $"ZenMesh ingester: webhooks on {endpoints.Hooks.Uri}hooks/<tenant>/<endpoint>, the egress job stream on {endpoints.Stream.Uri}, events in {Path.GetFullPath(options.DataDir)}. Ctrl-C stops.";
    },
    "--port and --stream-port").ConfigureAwait(false);
