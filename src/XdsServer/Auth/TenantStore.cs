using System.Globalization;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// The tenants that exist: "default" always, and those the operator created. Read from the
/// database on each question (only the API asks, never a hot path), so every replica agrees.
/// </summary>
public sealed class TenantStore
{
    private readonly ControlPlaneDatabase _database;

    public TenantStore(ControlPlaneDatabase database)
    {
        _database = database;
        _database.EnsureSchema("CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)");
    }

    public bool Exists(string name)
    {
        if (name == ApiToken.DefaultTenant)
        {
            return true;
        }
        using var connection = _database.Open();
        using var select = connection.Command("SELECT COUNT(*) FROM tenants WHERE name = @name").With("name", name);
        return Convert.ToInt64(select.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    public IReadOnlyList<Tenant> List()
    {
        var tenants = new List<Tenant> { new(ApiToken.DefaultTenant, DateTimeOffset.MinValue) };
        using var connection = _database.Open();
        using var select = connection.Command("SELECT name, created_at FROM tenants ORDER BY name");
        using var reader = select.ExecuteReader();
        while (reader.Read())
        {
            tenants.Add(new Tenant(reader.GetString(0), DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture)));
        }
        return tenants;
    }

    /// <summary>False when it already exists.</summary>
    public bool Create(string name, DateTimeOffset now)
    {
        if (name == ApiToken.DefaultTenant)
        {
            return false;
        }
        using var connection = _database.Open();
        using var insert = connection.Command("INSERT INTO tenants (name, created_at) VALUES (@name, @at) ON CONFLICT (name) DO NOTHING")
            .With("name", name).With("at", now.ToString("O", CultureInfo.InvariantCulture));
        return insert.ExecuteNonQuery() > 0;
    }

    public bool Delete(string name)
    {
        using var connection = _database.Open();
        using var delete = connection.Command("DELETE FROM tenants WHERE name = @name").With("name", name);
        return delete.ExecuteNonQuery() > 0;
    }
}
