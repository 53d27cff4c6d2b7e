using ZenMesh.Hosting;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Storage;

return await ServiceMain.RunAsync(
    () => XdsServerApp.Build(args),
    app =>
    {
        var bound = app.Services.GetRequiredService<BoundEndpoints>();
        var store = app.Services.GetRequiredService<DesiredStateStore>();
        return $"ZenMesh xDS server: ADS (gRPC) on {bound.Ads.Uri}, admin and Flow API on {bound.Http.Uri} (try {bound.Http.Uri}admin/xds/clients). Desired state: {store.Current.Edges.Count} edges, stored in {app.Services.GetRequiredService<IDesiredStatePersistence>().Describe()}. Ctrl-C stops.";
    },
    "--ads-port and --http-port",
    app =>
    {
        // Refuse a bad resources file before listening, with one clear message.
        app.Services.GetRequiredService<ResourceFileSource>().LoadInitial();
        // Load and publish stored desired state before the first client connects.
        app.Services.GetRequiredService<DesiredStateStore>();
    },
    e => e is ResourceFileException or DesiredStateLoadException or DatabaseUnavailableException).ConfigureAwait(false);
