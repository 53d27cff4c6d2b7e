using System.Reflection;
using Microsoft.Extensions.Logging;

namespace ZenMesh.Deploy.Tests.Logging;

/// <summary>
/// A log event id names one message in a process: an operator filters and alerts on it. Each
/// service's process loads its own assembly and ZenMesh's shared ones; within that set no two
/// [LoggerMessage] methods may share an id.
/// </summary>
public sealed class LogEventIdTests
{
    public static TheoryData<string> Services => ["ZenMesh.XdsServer", "ZenMesh.Agent", "ZenMesh.Ingester", "ZenMesh.Egress"];

    [Theory]
    [MemberData(nameof(Services))]
    public void EachLogEventId_NamesOneMessage_InTheServicesProcess(string service)
    {
        var assemblies = InProcess(Assembly.Load(service));

        var clashes = assemblies
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is { EventId: not 0 })
            .GroupBy(x => x.Attribute!.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(x => $"{x.Method.DeclaringType!.FullName}.{x.Method.Name}"))}")
            .ToList();

        Assert.True(clashes.Count == 0, $"{service} logs these event ids for more than one message:\n{string.Join('\n', clashes)}");
    }

    /// <summary>The service's assembly and every ZenMesh assembly it references, transitively.</summary>
    private static List<Assembly> InProcess(Assembly service)
    {
        var found = new Dictionary<string, Assembly>(StringComparer.Ordinal) { [service.GetName().Name!] = service };
        var queue = new Queue<Assembly>([service]);
        while (queue.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies().Where(r => r.Name!.StartsWith("ZenMesh", StringComparison.Ordinal) || r.Name is "Envoy.Api.Protos"))
            {
                if (!found.ContainsKey(reference.Name!))
                {
                    var loaded = Assembly.Load(reference);
                    found[reference.Name!] = loaded;
                    queue.Enqueue(loaded);
                }
            }
        }
        return [.. found.Values];
    }
}
