using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Identity;

/// <summary>
/// Enrollment tokens (one-time, short-lived, stored hashed) and the credentials issued for them,
/// in the control plane's database. Revoking an edge (rotated or deleted) marks every credential
/// it holds and ends its open streams, here and, through the change feed, on every replica.
/// </summary>
public sealed class EdgeCredentialStore
{
    private readonly ControlPlaneDatabase _database;
    private readonly ConcurrentDictionary<string, EdgeCredential> _bySerial = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ImmutableList<Action>> _watchers = new(StringComparer.Ordinal);

    public EdgeCredentialStore(ControlPlaneDatabase database)
    {
        _database = database;
        _database.EnsureSchema("""
            CREATE TABLE IF NOT EXISTS enrollments (hash TEXT PRIMARY KEY, tenant TEXT NOT NULL, edge TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT);
            CREATE TABLE IF NOT EXISTS edge_credentials (serial TEXT PRIMARY KEY, tenant TEXT NOT NULL, edge TEXT NOT NULL, issued_at TEXT NOT NULL, not_after TEXT NOT NULL, revoked_at TEXT, revoked_reason TEXT);
            """);
        Refresh();
    }

    /// <summary>Stores a new one-time enrollment token for the edge and returns its value.</summary>
    public string CreateEnrollment(string tenant, string edge, string actor, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var value = "zm_enroll_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        using var connection = _database.Open();
        using var insert = connection.Command("INSERT INTO enrollments (hash, tenant, edge, created_by, created_at, expires_at) VALUES (@hash, @tenant, @edge, @actor, @now, @expires)")
            .With("hash", Hash(value)).With("tenant", tenant).With("edge", edge).With("actor", actor).With("now", Text(now)).With("expires", Text(expiresAt));
        insert.ExecuteNonQuery();
        return value;
    }

    /// <summary>Uses up an enrollment token: what it was for, or why it cannot be used (unknown, used, expired).</summary>
    public (RedeemedEnrollment? Enrollment, string? Problem) Redeem(string token, DateTimeOffset now)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        _database.LockWriters(transaction);
        string tenant, edge;
        using (var select = connection.Command("SELECT tenant, edge, expires_at, used_at FROM enrollments WHERE hash = @hash", transaction).With("hash", Hash(token)))
        using (var reader = select.ExecuteReader())
        {
            if (!reader.Read())
            {
                return (null, "The enrollment token is not known (mistyped, or the edge was rotated since). Ask for a new bundle: POST /api/v1/edges/{name}/enrollment.");
            }
            (tenant, edge) = (reader.GetString(0), reader.GetString(1));
            if (!reader.IsDBNull(3))
            {
                return (null, $"The enrollment token of edge '{tenant}/{edge}' was already used at {reader.GetString(3)}; a token works once. Ask for a new bundle: POST /api/v1/edges/{edge}/enrollment.");
            }
            if (Parse(reader.GetString(2)) <= now)
            {
                return (null, $"The enrollment token of edge '{tenant}/{edge}' expired at {reader.GetString(2)}. Ask for a new bundle: POST /api/v1/edges/{edge}/enrollment.");
            }
        }
        using (var use = connection.Command("UPDATE enrollments SET used_at = @now WHERE hash = @hash", transaction).With("now", Text(now)).With("hash", Hash(token)))
        {
            use.ExecuteNonQuery();
        }
        transaction.Commit();
        return (new RedeemedEnrollment(tenant, edge), null);
    }

    public void RecordIssued(EdgeCredential credential)
    {
        var (tenant, edge) = Model.DesiredState.Split(credential.NodeId);
        using var connection = _database.Open();
        using var insert = connection.Command("INSERT INTO edge_credentials (serial, tenant, edge, issued_at, not_after) VALUES (@serial, @tenant, @edge, @issued, @notAfter)")
            .With("serial", credential.Serial).With("tenant", tenant).With("edge", edge).With("issued", Text(credential.IssuedAt)).With("notAfter", Text(credential.NotAfter));
        insert.ExecuteNonQuery();
        _bySerial[credential.Serial] = credential;
    }

    /// <summary>The recorded credential with this serial (another replica may have issued it), or null.</summary>
    public EdgeCredential? Find(string serial)
    {
        if (_bySerial.TryGetValue(serial, out var known))
        {
            return known;
        }
        using var connection = _database.Open();
        using var select = connection.Command("SELECT serial, tenant, edge, issued_at, not_after, revoked_at, revoked_reason FROM edge_credentials WHERE serial = @serial").With("serial", serial);
        var found = ReadAll(select).SingleOrDefault();
        if (found is not null)
        {
            _bySerial[serial] = found;
        }
        return found;
    }

    public IReadOnlyList<EdgeCredential> List(string tenant, string edge)
    {
        using var connection = _database.Open();
        using var select = connection.Command("SELECT serial, tenant, edge, issued_at, not_after, revoked_at, revoked_reason FROM edge_credentials WHERE tenant = @tenant AND edge = @edge ORDER BY issued_at").With("tenant", tenant).With("edge", edge);
        return ReadAll(select);
    }

    /// <summary>
    /// Revokes every credential of the edge and every unused enrollment token for it, and ends its
    /// open streams. Returns how many credentials were revoked.
    /// </summary>
    public int RevokeEdge(string nodeId, string reason, DateTimeOffset now)
    {
        var (tenant, edge) = Model.DesiredState.Split(nodeId);
        int revoked;
        using (var connection = _database.Open())
        using (var transaction = connection.BeginTransaction())
        {
            _database.LockWriters(transaction);
            using (var update = connection.Command("UPDATE edge_credentials SET revoked_at = @now, revoked_reason = @reason WHERE tenant = @tenant AND edge = @edge AND revoked_at IS NULL", transaction)
                .With("now", Text(now)).With("reason", reason).With("tenant", tenant).With("edge", edge))
            {
                revoked = update.ExecuteNonQuery();
            }
            using (var expire = connection.Command("UPDATE enrollments SET used_at = @now WHERE tenant = @tenant AND edge = @edge AND used_at IS NULL", transaction)
                .With("now", Text(now)).With("tenant", tenant).With("edge", edge))
            {
                expire.ExecuteNonQuery();
            }
            _database.Notify(transaction, ControlPlaneDatabase.CredentialsTopic);
            transaction.Commit();
        }
        foreach (var (serial, credential) in _bySerial.Where(c => c.Value.NodeId == nodeId && c.Value.RevokedAt is null))
        {
            _bySerial[serial] = credential with { RevokedAt = now, RevokedReason = reason };
        }
        EndStreams(nodeId);
        return revoked;
    }

    /// <summary>Calls <paramref name="onRevoked"/> when the edge's credentials are revoked, until disposed.</summary>
    public IDisposable WatchRevocation(string nodeId, Action onRevoked)
    {
        _watchers.AddOrUpdate(nodeId, _ => [onRevoked], (_, list) => list.Add(onRevoked));
        return new Unwatch(this, nodeId, onRevoked);
    }

    /// <summary>Reloads every credential (another replica issued or revoked some) and ends the streams of newly revoked edges.</summary>
    public void Refresh()
    {
        using var connection = _database.Open();
        using var select = connection.Command("SELECT serial, tenant, edge, issued_at, not_after, revoked_at, revoked_reason FROM edge_credentials");
        var newlyRevoked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var credential in ReadAll(select))
        {
            if (credential.RevokedAt is not null && _bySerial.TryGetValue(credential.Serial, out var known) && known.RevokedAt is null)
            {
                newlyRevoked.Add(credential.NodeId);
            }
            _bySerial[credential.Serial] = credential;
        }
        foreach (var node in newlyRevoked)
        {
            EndStreams(node);
        }
    }

    private void EndStreams(string nodeId)
    {
        if (_watchers.TryGetValue(nodeId, out var watchers))
        {
            foreach (var watcher in watchers)
            {
                watcher();
            }
        }
    }

    private static List<EdgeCredential> ReadAll(DbCommand select)
    {
        using var reader = select.ExecuteReader();
        var all = new List<EdgeCredential>();
        while (reader.Read())
        {
            all.Add(new EdgeCredential(reader.GetString(0), $"{reader.GetString(1)}/{reader.GetString(2)}", Parse(reader.GetString(3)), Parse(reader.GetString(4)),
                reader.IsDBNull(5) ? null : Parse(reader.GetString(5)), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return all;
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Text(DateTimeOffset at) => at.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private sealed class Unwatch(EdgeCredentialStore store, string nodeId, Action watcher) : IDisposable
    {
        public void Dispose()
        {
            store._watchers.AddOrUpdate(nodeId, _ => [], (_, list) => list.Remove(watcher));
            store._watchers.TryRemove(KeyValuePair.Create(nodeId, ImmutableList<Action>.Empty));
        }
    }
}
