using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using ZenMesh.Contracts.V1;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Edges;

/// <summary>
/// The latest report of each edge's agent, in the control plane's database so that every replica's
/// /api/v1/status shows it, whichever replica the agent reports to. A report whose content did not
/// change is not written again within a minute: heartbeats cost memory, not database writes.
/// </summary>
public sealed class EdgeReportStore
{
    private static readonly TimeSpan RewriteAfter = TimeSpan.FromMinutes(1);
    private readonly ControlPlaneDatabase _database;
    private readonly ConcurrentDictionary<string, (EdgeReport Report, DateTimeOffset At, DateTimeOffset WrittenAt)> _latest = new(StringComparer.Ordinal);

    public EdgeReportStore(ControlPlaneDatabase database)
    {
        _database = database;
        _database.EnsureSchema("CREATE TABLE IF NOT EXISTS edge_reports (node TEXT PRIMARY KEY, reported_at TEXT NOT NULL, report TEXT NOT NULL)");
    }

    public void Save(EdgeReport report, DateTimeOffset at)
    {
        var unchanged = _latest.TryGetValue(report.NodeId, out var known) && known.Report.Equals(Comparable(report, known.Report)) && at - known.WrittenAt < RewriteAfter;
        if (!unchanged)
        {
            using var connection = _database.Open();
            using var upsert = connection.Command("INSERT INTO edge_reports (node, reported_at, report) VALUES (@node, @at, @report) ON CONFLICT (node) DO UPDATE SET reported_at = excluded.reported_at, report = excluded.report")
                .With("node", report.NodeId).With("at", at.ToString("O", CultureInfo.InvariantCulture)).With("report", JsonFormatter.Default.Format(report));
            upsert.ExecuteNonQuery();
        }
        _latest[report.NodeId] = (report, at, unchanged ? known.WrittenAt : at);
    }

    /// <summary>The latest report of each edge that reported to this replica, and when it arrived.</summary>
    public IEnumerable<(EdgeReport Report, DateTimeOffset At)> ReceivedHere => _latest.Values.Select(v => (v.Report, v.At));

    /// <summary>The latest report of each edge of a tenant and when it arrived (here or at another replica), in one query.</summary>
    public IReadOnlyDictionary<string, (EdgeReport Report, DateTimeOffset At)> ForTenant(string tenant)
    {
        var reports = new Dictionary<string, (EdgeReport, DateTimeOffset)>(StringComparer.Ordinal);
        using var connection = _database.Open();
        using var select = connection.Command("SELECT node, reported_at, report FROM edge_reports WHERE substr(node, 1, length(@prefix)) = @prefix").With("prefix", tenant + "/");
        using var reader = select.ExecuteReader();
        while (reader.Read())
        {
            var (node, at) = (reader.GetString(0), DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture));
            // A heartbeat newer than the stored row (not rewritten because nothing changed) wins.
            reports[node] = _latest.TryGetValue(node, out var known) && known.At > at
                ? (known.Report, known.At)
                : (JsonParser.Default.Parse<EdgeReport>(reader.GetString(2)), at);
        }
        return reports;
    }

    // Staleness grows with every heartbeat; it alone does not make a report worth writing.
    private static EdgeReport Comparable(EdgeReport report, EdgeReport known)
    {
        var copy = report.Clone();
        copy.StaleSeconds = known.StaleSeconds;
        return copy;
    }
}
