using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;

// ZenMesh Egress: takes delivery jobs from the ingester, signs them (Standard Webhooks) and
// delivers them through the local Envoy (or --direct), with redelivery, dead letters and a
// delivery log on its HTTP API.
try
{
    var app = EgressApp.Build(args);
    await app.StartAsync().ConfigureAwait(false);
    var options = app.Services.GetRequiredService<IOptions<EgressOptions>>().Value;
    Console.WriteLine($"ZenMesh egress: jobs from {options.Ingester}, delivering {(options.Direct ? "directly" : $"through Envoy at {options.Envoy}")}; delivery log on {app.Services.GetRequiredService<EgressEndpoints>().Api.Uri}deliveries, store in {Path.GetFullPath(options.DataDir)}. Ctrl-C stops.");
    await app.WaitForShutdownAsync().ConfigureAwait(false);
    return 0;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}");
    return 2;
}
