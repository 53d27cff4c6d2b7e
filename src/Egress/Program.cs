using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;
using ZenMesh.Hosting;

// ZenMesh Egress: takes delivery jobs from the ingester, signs them (Standard Webhooks) and
// delivers them through the local Envoy (or --direct), with redelivery, dead letters and a
// delivery log on its HTTP API.
return await ServiceMain.RunAsync(
    () => EgressApp.Build(args),
    app =>
    {
        var options = app.Services.GetRequiredService<IOptions<EgressOptions>>().Value;
        return $"ZenMesh egress: jobs from {options.Ingester}, delivering {(options.Direct ? "directly" : $"through Envoy at {options.Envoy}")}; delivery log on {app.Services.GetRequiredService<EgressEndpoints>().Api.Uri}deliveries, store in {Path.GetFullPath(options.DataDir)}. Ctrl-C stops.";
    },
    "--port").ConfigureAwait(false);
