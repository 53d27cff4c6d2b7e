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

    /// <summary>True once an operator token exists (first start writes one).</summary>
    public bool HasOperator => _byHash.Values.Any(t => t.Role == Role.Operator);

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

    /// <summary>
    /// Databases from before the operator role: the token made on first start (or from
    /// ZENMESH_ADMIN_TOKEN) was tenant default's admin. It becomes the operator's, so the same
    /// admin-token file keeps working and no tenant's admin can revoke it.
    /// </summary>
    public int PromoteFirstAdmins()
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        int promoted;
        using (var update = connection.Command("UPDATE tokens SET tenant = @platform, role = @operator, name = REPLACE(name, 'admin (', 'operator (') WHERE tenant = @default AND role = @admin AND name IN ('admin (first start)', 'admin (from configuration)')", transaction)
            .With("platform", ApiToken.PlatformTenant).With("operator", Role.Operator.ToString()).With("default", ApiToken.DefaultTenant).With("admin", Role.Admin.ToString()))
        {
            promoted = update.ExecuteNonQuery();
        }
        if (promoted > 0)
        {
            _database.Notify(transaction, ControlPlaneDatabase.TokensTopic);
        }
        transaction.Commit();
        Reload();
        return promoted;
    }

    /// <summary>Revokes the operator tokens that came from configuration, but <paramref name="keep"/>: a changed ZENMESH_ADMIN_TOKEN ends the old one.</summary>
    public int RevokeConfiguredOperatorsExcept(string keep, string configuredName)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        int revoked;
        using (var delete = connection.Command("DELETE FROM tokens WHERE tenant = @platform AND name = @name AND hash <> @keep", transaction)
            .With("platform", ApiToken.PlatformTenant).With("name", configuredName).With("keep", ApiToken.Hash(keep)))
        {
            revoked = delete.ExecuteNonQuery();
        }
        if (revoked > 0)
        {
            _database.Notify(transaction, ControlPlaneDatabase.TokensTopic);
        }
        transaction.Commit();
        Reload();
        return revoked;
    }

    /// <summary>Revokes every token of a tenant (the tenant is being deleted).</summary>
    public int RevokeTenant(string tenant)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        int revoked;
        using (var delete = connection.Command("DELETE FROM tokens WHERE tenant = @tenant", transaction).With("tenant", tenant))
        {
            revoked = delete.ExecuteNonQuery();
        }
        _database.Notify(transaction, ControlPlaneDatabase.TokensTopic);
        transaction.Commit();
        Reload();
        return revoked;
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
