using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// API tokens in the control plane's database, looked up by hash. An in-memory index serves
/// requests; another replica's creations and revocations arrive through <see cref="Reload"/>.
/// </summary>
public sealed class TokenStore
{
    private readonly ControlPlaneDatabase _database;
    private volatile ConcurrentDictionary<string, ApiToken> _byHash = new(StringComparer.Ordinal);

    public TokenStore(ControlPlaneDatabase database)
    {
        _database = database;
        _database.EnsureSchema("CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)");
        Reload();
    }

    public bool IsEmpty => _byHash.IsEmpty;

    public ApiToken? Find(string value) => _byHash.GetValueOrDefault(ApiToken.Hash(value));

    public IReadOnlyList<ApiToken> List(string tenant) => [.. _byHash.Values.Where(t => t.Tenant == tenant).OrderBy(t => t.CreatedAt)];

    /// <summary>Reads every token again (another replica created or revoked one).</summary>
    public void Reload()
    {
        var fresh = new ConcurrentDictionary<string, ApiToken>(StringComparer.Ordinal);
        using var connection = _database.Open();
        using var select = connection.Command("SELECT id, hash, tenant, role, name, created_at FROM tokens");
        using var reader = select.ExecuteReader();
        while (reader.Read())
        {
            fresh[reader.GetString(1)] = new ApiToken(reader.GetString(0), reader.GetString(2), Enum.Parse<Role>(reader.GetString(3)), reader.GetString(4), DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture));
        }
        _byHash = fresh;
    }

    /// <summary>Stores a token for <paramref name="value"/> (a new random one when null) and returns the value.</summary>
    public (ApiToken Token, string Value) Create(string tenant, Role role, string name, DateTimeOffset now, string? value = null)
    {
        value ??= ApiToken.NewValue();
        var hash = ApiToken.Hash(value);
        var token = new ApiToken(ApiToken.NewId(), tenant, role, name, now);
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        using (var insert = connection.Command("INSERT INTO tokens (id, hash, tenant, role, name, created_at) VALUES (@id, @hash, @tenant, @role, @name, @at) ON CONFLICT (hash) DO NOTHING", transaction))
        {
            insert.With("id", token.Id).With("hash", hash).With("tenant", tenant).With("role", role.ToString()).With("name", name).With("at", now.ToString("O", CultureInfo.InvariantCulture));
            if (insert.ExecuteNonQuery() == 0)
            {
                // The same value already exists (ZENMESH_ADMIN_TOKEN on every start, or on every replica).
                transaction.Rollback();
                Reload();
                return (_byHash[hash], value);
            }
        }
        _database.Notify(transaction, ControlPlaneDatabase.TokensTopic);
        transaction.Commit();
        _byHash[hash] = token;
        return (token, value);
    }

    public bool Revoke(string tenant, string id)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        using (var delete = connection.Command("DELETE FROM tokens WHERE id = @id AND tenant = @tenant", transaction).With("id", id).With("tenant", tenant))
        {
            if (delete.ExecuteNonQuery() == 0)
            {
                return false;
            }
        }
        _database.Notify(transaction, ControlPlaneDatabase.TokensTopic);
        transaction.Commit();
        foreach (var entry in _byHash.Where(e => e.Value.Id == id))
        {
            _byHash.TryRemove(entry.Key, out _);
        }
        return true;
    }
}
