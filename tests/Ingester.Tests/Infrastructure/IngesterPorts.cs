using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>
/// An ingester under test listens twice, webhooks and the egress stream, both on ports the OS picks
/// when it binds; <see cref="IngesterEndpoints"/> says which is which once it runs. Nothing is
/// reserved in advance, so no parallel test can take a port between choosing and binding it.
/// </summary>
internal static class IngesterPorts
{
    public static string[] Args => ["--port", "0", "--stream-port", "0"];

    public static Uri Hooks(WebApplication app) => app.Services.GetRequiredService<IngesterEndpoints>().Hooks.Uri;

    public static Uri Stream(WebApplication app) => app.Services.GetRequiredService<IngesterEndpoints>().Stream.Uri;
}
