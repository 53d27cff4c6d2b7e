using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serilog;
using Serilog.Extensions.Logging;

namespace ZenMesh.Observability;

/// <summary>
/// Logs and traces, set up the same way in every ZenMesh service.
/// <para>Logs: <c>Logging:Format</c> (<c>--log-format</c>) is <c>text</c> (the console logger, the
/// default for a person at a terminal) or <c>json</c> (Serilog, one JSON object per line: <c>@t</c>,
/// <c>@m</c>, <c>@l</c>, <c>@tr</c> trace id, <c>@sp</c> span id, <c>service</c>, <c>edge</c>, and
/// per event <c>event_id</c>, <c>flow</c>, <c>tenant</c>). The usual <c>Logging:LogLevel</c>
/// settings filter both.</para>
/// <para>Traces: W3C <c>traceparent</c> is always carried (a webhook's trace id reaches its target
/// through the store and Envoy). Spans are exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// (<c>--otlp</c>) is set; the other standard <c>OTEL_*</c> settings apply.</para>
/// </summary>
public static class ServiceTelemetry
{
    public const string FormatKey = "Logging:Format";
    public const string OtlpKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary><paramref name="switches"/> and the ones every service takes for these settings (--log-format, --otlp).</summary>
    public static Dictionary<string, string> WithSwitches(IReadOnlyDictionary<string, string> switches) =>
        new(switches.Append(KeyValuePair.Create("--log-format", FormatKey)).Append(KeyValuePair.Create("--otlp", OtlpKey)), StringComparer.Ordinal);

    /// <summary>What is wrong with the telemetry settings, in the services' option-error style.</summary>
    public static IEnumerable<string> Problems(IConfiguration configuration)
    {
        if (configuration[FormatKey] is { } format && format is not ("text" or "json"))
        {
            yield return $"{FormatKey} (--log-format) is '{format}'; use text (the default) or json (one JSON object per line, for a log collector).";
        }
        if (configuration[OtlpKey] is { Length: > 0 } otlp && !(Uri.TryCreate(otlp, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            yield return $"{OtlpKey} (--otlp) is '{otlp}'; use the OTLP collector's URL, e.g. http://127.0.0.1:4317.";
        }
    }

    /// <summary>
    /// Sets up logging and tracing for <paramref name="service"/> ("ingester", "egress", ...) of
    /// <paramref name="edge"/> (null for the control plane); registers <see cref="ServiceTracing"/>.
    /// </summary>
    public static void AddServiceTelemetry(this WebApplicationBuilder builder, string service, string? edge)
    {
        var problems = Problems(builder.Configuration).ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException("Telemetry", typeof(ServiceTracing), problems);
        }
        var tracing = new ServiceTracing(service);
        builder.Services.AddSingleton(tracing);

        if (builder.Configuration[FormatKey] == "json")
        {
            builder.Logging.ClearProviders();
            // A provider under Microsoft.Extensions.Logging, so Logging:LogLevel and filters still decide what is written.
            builder.Services.AddSingleton<ILoggerProvider>(s =>
            {
                var configuration = new LoggerConfiguration().MinimumLevel.Verbose().Enrich.WithProperty("service", service);
                if (edge is not null)
                {
                    configuration = configuration.Enrich.WithProperty("edge", edge);
                }
                var output = s.GetService<LogOutput>()?.Writer ?? Console.Out;
                return new SerilogLoggerProvider(configuration.WriteTo.Sink(new JsonLinesSink(output)).CreateLogger(), dispose: true);
            });
        }

        if (builder.Configuration[OtlpKey] is { Length: > 0 })
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService($"zenmesh-{service}").AddAttributes(edge is null ? [] : [KeyValuePair.Create<string, object>("zenmesh.edge", edge)]))
                .WithTracing(t => t
                    .AddSource(tracing.Source.Name)
                    // Webhooks and the APIs; not probes, scrapes or the long-lived gRPC streams (xDS, jobs).
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsGrpc(http.Request.ContentType) && http.Request.Path.Value is not ("/metrics" or "/healthz" or "/status"))
                    .AddHttpClientInstrumentation(o => o.FilterHttpRequestMessage = r => !IsGrpc(r.Content?.Headers.ContentType?.MediaType))
                    .AddOtlpExporter());
        }
    }

    private static bool IsGrpc(string? contentType) => contentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
}

/// <summary>Where JSON logs go instead of standard output (a test's writer).</summary>
public sealed record LogOutput(TextWriter Writer);
