using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ZenMesh.XdsServer.Auth;

/// <summary>API tokens in the data directory's SQLite file, looked up by hash; an in-memory index serves requests.</summary>
public sealed class TokenStore
{
    private readonly Storage.SqliteDatabase _database;
    private readonly ConcurrentDictionary<string, ApiToken> _byHash = new(StringComparer.Ordinal);

    public TokenStore(string dataDirectory)
    {
        _database = new Storage.SqliteDatabase(dataDirectory);
        using var connection = _database.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)";
            create.ExecuteNonQuery();
        }
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT id, hash, tenant, role, name, created_at FROM tokens";
        using var reader = select.ExecuteReader();
        while (reader.Read())
        {
            _byHash[reader.GetString(1)] = new ApiToken(reader.GetString(0), reader.GetString(2), Enum.Parse<Role>(reader.GetString(3)), reader.GetString(4), DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture));
        }
    }

    public bool IsEmpty => _byHash.IsEmpty;

    public ApiToken? Find(string value) => _byHash.GetValueOrDefault(ApiToken.Hash(value));

    public IReadOnlyList<ApiToken> List(string tenant) => [.. _byHash.Values.Where(t => t.Tenant == tenant).OrderBy(t => t.CreatedAt)];

    /// <summary>Stores a token for <paramref name="value"/> (a new random one when null) and returns the value.</summary>
    public (ApiToken Token, string Value) Create(string tenant, Role role, string name, DateTimeOffset now, string? value = null)
    {
        value ??= ApiToken.NewValue();
        var hash = ApiToken.Hash(value);
        if (_byHash.TryGetValue(hash, out var existing))
        {
            return (existing, value);
        }
        var token = new ApiToken(ApiToken.NewId(), tenant, role, name, now);
        using var connection = _database.Open();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO tokens (id, hash, tenant, role, name, created_at) VALUES ($id, $hash, $tenant, $role, $name, $at)";
        insert.Parameters.AddWithValue("$id", token.Id);
        insert.Parameters.AddWithValue("$hash", hash);
        insert.Parameters.AddWithValue("$tenant", tenant);
        insert.Parameters.AddWithValue("$role", role.ToString());
        insert.Parameters.AddWithValue("$name", name);
        insert.Parameters.AddWithValue("$at", now.ToString("O", CultureInfo.InvariantCulture));
        insert.ExecuteNonQuery();
        _byHash[hash] = token;
        return (token, value);
    }

    public bool Revoke(string tenant, string id)
    {
        var found = _byHash.FirstOrDefault(e => e.Value.Id == id && e.Value.Tenant == tenant);
        if (found.Value is null)
        {
            return false;
        }
        using var connection = _database.Open();
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM tokens WHERE id = $id";
        delete.Parameters.AddWithValue("$id", id);
        delete.ExecuteNonQuery();
        _byHash.TryRemove(found.Key, out _);
        return true;
    }
}
