using System.Text.Json;
using Microsoft.Data.Sqlite;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// The embedded default: one SQLite file in the data directory, written in a transaction per change
/// with synchronous=FULL, so an acknowledged change survives a crash.
/// </summary>
public sealed class SqliteDesiredStatePersistence : IDesiredStatePersistence
{
    private readonly SqliteDatabase _database;

    public SqliteDesiredStatePersistence(string dataDirectory)
    {
        _database = new SqliteDatabase(dataDirectory);
        using var connection = _database.Open();
        SqliteDatabase.Execute(connection, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS resources (
                tenant TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                spec TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (tenant, kind, name));
            """);
    }

    public string Describe() => _database.Path;

    public DesiredState Load()
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT tenant, kind, name, spec FROM resources ORDER BY tenant, kind, name";
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
            throw new DesiredStateLoadException(_database.Path, problems);
        }
        return state;
    }

    public void Save(IReadOnlyList<Change> changes)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var now = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var change in changes)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.Parameters.AddWithValue("$tenant", change.Tenant);
            command.Parameters.AddWithValue("$kind", change.Kind.Plural());
            command.Parameters.AddWithValue("$name", change.Name);
            if (change.Action == ChangeAction.Deleted)
            {
                command.CommandText = "DELETE FROM resources WHERE tenant = $tenant AND kind = $kind AND name = $name";
            }
            else
            {
                command.CommandText = """
                    INSERT INTO resources (tenant, kind, name, spec, updated_at) VALUES ($tenant, $kind, $name, $spec, $now)
                    ON CONFLICT (tenant, kind, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at
                    """;
                command.Parameters.AddWithValue("$spec", JsonSerializer.Serialize(change.Spec, FlowApiJson.SpecType(change.Kind), FlowApiJson.Options));
                command.Parameters.AddWithValue("$now", now);
            }
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
