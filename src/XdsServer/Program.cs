using Microsoft.Extensions.Options;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Storage;

try
{
    var app = XdsServerApp.Build(args);
    // Refuse a bad resources file before listening, with one clear message.
    app.Services.GetRequiredService<ResourceFileSource>().LoadInitial();
    // Load and publish stored desired state before the first client connects.
    var store = app.Services.GetRequiredService<DesiredStateStore>();
    await app.StartAsync().ConfigureAwait(false);
    var bound = app.Services.GetRequiredService<BoundEndpoints>();
    Console.WriteLine($"ZenMesh xDS server: ADS (gRPC) on {bound.Ads.Uri}, admin and Flow API on {bound.Http.Uri} (try {bound.Http.Uri}admin/xds/clients). Desired state: {store.Current.Edges.Count} edges, stored in {app.Services.GetRequiredService<IDesiredStatePersistence>().Describe()}. Ctrl-C stops.");
    await app.WaitForShutdownAsync().ConfigureAwait(false);
    return 0;
}
catch (ResourceFileException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (DesiredStateLoadException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (DatabaseUnavailableException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}");
    return 2;
}
catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException)
{
    Console.Error.WriteLine($"Cannot listen: {e.Message}. Another process may hold the port; choose others with --ads-port and --http-port.");
    return 2;
}
