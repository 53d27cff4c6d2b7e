using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using ZenMesh.Observability;
using ZenMesh.Secrets;

namespace ZenMesh.Hosting;

/// <summary>
/// The start of every data-plane service's host (ingester, egress), written once: its options read
/// from the command line (ZENMESH_SECRETS_DIR and a connection-string file too) and validated once,
/// every problem at once; then telemetry, the options, the clock and the edge's secrets registered.
/// </summary>
public static class EdgeServiceBuilder
{
    /// <param name="args">The process's arguments.</param>
    /// <param name="commandLine">The arguments read as settings (flags without a value taken out), with <paramref name="settings"/> on top.</param>
    /// <param name="section">The options' configuration section, e.g. "Ingester".</param>
    /// <param name="switches">Command-line switches to the settings they set.</param>
    /// <param name="validate">Every problem with the options, each naming its setting.</param>
    /// <param name="service">The service's name in logs and traces.</param>
    /// <param name="settings">Settings the caller derived from flags.</param>
    public static (WebApplicationBuilder Builder, T Options) Create<T>(string[] args, string[] commandLine, string section, IReadOnlyDictionary<string, string> switches, Func<T, List<string>> validate, string service, IEnumerable<KeyValuePair<string, string?>>? settings = null)
        where T : class, IEdgeServiceOptions, new()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (Environment.GetEnvironmentVariable("ZENMESH_SECRETS_DIR") is { Length: > 0 } secretsDir)
        {
            builder.Configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>($"{section}:SecretsDir", secretsDir)]);
        }
        builder.Configuration.AddCommandLine(commandLine, ServiceTelemetry.WithSwitches(switches));
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        ServiceOptionChecks.ReadFileInto(builder.Configuration, $"{section}:Postgres");
        var options = ServiceOptionChecks.Read<T>(builder.Configuration, section);
        var problems = validate(options);
        problems.AddRange(ServiceTelemetry.Problems(builder.Configuration));
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(section, typeof(T), problems);
        }
        builder.AddServiceTelemetry(service, options.Edge);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(s => new SecretStore(options.SecretsDir, s.GetRequiredService<TimeProvider>()));
        return (builder, options);
    }
}
