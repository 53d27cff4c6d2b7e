using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ZenMesh.Hosting;

/// <summary>The checks every data-plane service makes of its options, each problem naming the setting, its switch and a value that works.</summary>
public static class ServiceOptionChecks
{
    /// <summary>The section bound to <typeparamref name="T"/>; a value of the wrong type is an options error that says which, not a crash.</summary>
    public static T Read<T>(IConfiguration configuration, string section)
        where T : class, new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            throw new OptionsValidationException(section, typeof(T), [$"{e.Message} Use a whole number for ports and counts, hh:mm:ss for durations (e.g. 00:01:00), true or false for switches."]);
        }
    }

    public static void Bind(List<string> problems, string section, string address)
    {
        if (!IPAddress.TryParse(address, out _))
        {
            problems.Add($"{section}:BindAddress (--bind) '{address}' is not an IP address; use e.g. 127.0.0.1.");
        }
    }

    public static void Port(List<string> problems, string section, int port)
    {
        if (port is < 0 or > 65535)
        {
            problems.Add($"{section}:Port (--port) {port} is not a port; use 0-65535 (0 picks a free one).");
        }
    }

    public static void Edge(List<string> problems, string section, string edge)
    {
        if (edge.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            problems.Add($"{section}:Edge (--edge) is '{edge}'; name the edge as tenant/edge, e.g. default/local.");
        }
    }

    /// <summary>An http(s) URL setting, e.g. ("Ingester:Xds", "--xds", value, "the agent's relay, e.g. http://127.0.0.1:18001").</summary>
    public static void HttpUrl(List<string> problems, string key, string flag, string value, string example)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            problems.Add($"{key} ({flag}) '{value}' is not an http(s) URL; use {example}.");
        }
    }

    /// <summary>A PostgreSQL connection string setting, when one is given (e.g. "Egress:Postgres").</summary>
    /// <summary>
    /// Lets a connection string (a password in it) come from a file, <paramref name="key"/>File
    /// (--postgres-file), instead of the command line, where every local user can read it in the
    /// process list. The environment works too, as for any key (e.g. Egress__Postgres).
    /// </summary>
    public static void ReadFileInto(ConfigurationManager configuration, string key)
    {
        if (configuration[key + "File"] is not { Length: > 0 } file)
        {
            return;
        }
        if (!File.Exists(file))
        {
            throw new OptionsValidationException(key, typeof(string), [$"{key}File (--postgres-file) '{file}' does not exist; name the file that holds the connection string."]);
        }
        configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>(key, File.ReadAllText(file).Trim())]);
    }

    public static void Postgres(List<string> problems, string key, string? value)
    {
        if (value is not { Length: > 0 })
        {
            return;
        }
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException e)
        {
            problems.Add($"{key} (--postgres) is not a PostgreSQL connection string ({e.Message}); use e.g. \"Host=127.0.0.1;Database=zenmesh;Username=zenmesh;Password=secret\".");
        }
    }
}
