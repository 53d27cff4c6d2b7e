using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// Desired state in the control plane's database: one row per resource and one revision counter,
/// written in one transaction per change (fsync'd on SQLite; committed on PostgreSQL), so an
/// acknowledged change survives a crash and replicas never overwrite each other's changes unseen.
/// </summary>
public sealed class DesiredStatePersistence : IDesiredStatePersistence
{
    private const string RevisionName = "desired-state";
    private readonly ControlPlaneDatabase _database;

    public DesiredStatePersistence(ControlPlaneDatabase database)
    {
        _database = database;
        _database.EnsureSchema("""
            CREATE TABLE IF NOT EXISTS resources (
                tenant TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                spec TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (tenant, kind, name));
            CREATE TABLE IF NOT EXISTS revisions (name TEXT PRIMARY KEY, revision BIGINT NOT NULL);
            INSERT INTO revisions (name, revision) VALUES ('desired-state', 0) ON CONFLICT (name) DO NOTHING;
            """);
    }

    public string Describe() => _database.Describe();

    public long Revision()
    {
        using var connection = _database.Open();
        return ReadRevision(connection, null);
    }

    public StoredState Load()
    {
        using var connection = _database.Open();
        // One snapshot of the database: the rows and the revision they belong to.
        using var transaction = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        var revision = ReadRevision(connection, transaction);
        using var command = connection.Command("SELECT tenant, kind, name, spec FROM resources ORDER BY tenant, kind, name", transaction);
        using var reader = command.ExecuteReader();
        var state = DesiredState.Empty;
        var problems = new List<string>();
        while (reader.Read())
        {
            var (tenant, kindText, name, json) = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
            if (!ResourceKinds.TryParsePlural(kindText, out var kind))
            {
                problems.Add($"row {tenant}/{kindText}/{name}: unknown kind '{kindText}'.");
                continue;
            }
            try
            {
                var spec = JsonSerializer.Deserialize(json, FlowApiJson.SpecType(kind), FlowApiJson.Options) ?? throw new JsonException("the stored spec is null");
                state = state.With(kind, tenant, name, spec);
            }
            catch (JsonException e)
            {
                problems.Add($"{kindText}/{name} (tenant {tenant}): {e.Message}");
            }
        }
        if (problems.Count > 0)
        {
            throw new DesiredStateLoadException(_database.Describe(), problems);
        }
        return new StoredState(state, revision);
    }

    public long Save(IReadOnlyList<Change> changes, long expectedRevision)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        _database.LockWriters(transaction);
        var actual = ReadRevision(connection, transaction);
        if (actual != expectedRevision)
        {
            throw new StaleRevisionException(expectedRevision, actual);
        }
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        foreach (var change in changes)
        {
            using var command = change.Action == ChangeAction.Deleted
                ? connection.Command("DELETE FROM resources WHERE tenant = @tenant AND kind = @kind AND name = @name", transaction)
                : connection.Command("""
                    INSERT INTO resources (tenant, kind, name, spec, updated_at) VALUES (@tenant, @kind, @name, @spec, @now)
                    ON CONFLICT (tenant, kind, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                    """, transaction)
                    .With("spec", JsonSerializer.Serialize(change.Spec, FlowApiJson.SpecType(change.Kind), FlowApiJson.Options))
                    .With("now", now);
            command.With("tenant", change.Tenant).With("kind", change.Kind.Plural()).With("name", change.Name).ExecuteNonQuery();
        }
        var revision = actual + 1;
        using (var bump = connection.Command("UPDATE revisions SET revision = @revision WHERE name = @name", transaction).With("revision", revision).With("name", RevisionName))
        {
            bump.ExecuteNonQuery();
        }
        _database.Notify(transaction, ControlPlaneDatabase.DesiredStateTopic);
        transaction.Commit();
        return revision;
    }

    private static long ReadRevision(DbConnection connection, DbTransaction? transaction)
    {
        using var command = connection.Command("SELECT revision FROM revisions WHERE name = @name", transaction).With("name", RevisionName);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
