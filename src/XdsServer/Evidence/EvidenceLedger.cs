using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Data.Common;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>
/// Append-only, hash-chained record of every desired-state change and every ACK/NACK an edge sends.
/// One writer task owns the chain: it takes entries from a channel, links each to the hash of the
/// one before, and writes them in batches, one transaction per batch. Verify walks the chain.
/// </summary>
public sealed class EvidenceLedger : IAsyncDisposable
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    private readonly ControlPlaneDatabase _database;
    private readonly TimeProvider _time;
    private readonly GroupCommitWriter<(Pending Entry, TaskCompletionSource? Written)> _writer;

    private sealed record Pending(string Tenant, string Kind, string Actor, string Subject, string Detail);

    public EvidenceLedger(ControlPlaneDatabase database, TimeProvider time)
    {
        _time = time;
        _database = database;
        _database.EnsureSchema("CREATE TABLE IF NOT EXISTS evidence (seq BIGINT PRIMARY KEY, at TEXT NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)");
        _writer = new(512, batch =>
        {
            WriteBatch(batch);
            foreach (var (_, written) in batch)
            {
                written?.TrySetResult();
            }
        },
        (batch, e) =>
        {
            foreach (var (_, written) in batch)
            {
                written?.TrySetException(e);
            }
        });
    }

    /// <summary>Records an entry and waits until it is durably written (desired-state changes).</summary>
    public Task AppendAsync(string tenant, string kind, string actor, string subject, string detail)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _writer.TryEnqueue((new Pending(tenant, kind, actor, subject, detail), written)) ? written.Task : Task.FromException(new ObjectDisposedException(nameof(EvidenceLedger)));
    }

    /// <summary>Records an entry without waiting (ACKs and NACKs from the xDS streams).</summary>
    public void Record(string tenant, string kind, string actor, string subject, string detail) =>
        _writer.TryEnqueue((new Pending(tenant, kind, actor, subject, detail), null));

    public IReadOnlyList<EvidenceEntry> Read(string tenant, string? kind, string? subject, long? afterSeq, int limit)
    {
        using var connection = _database.Open();
        using var command = connection.Command("""
            SELECT seq, at, tenant, kind, actor, subject, detail, prev_hash, hash FROM evidence
            WHERE tenant = @tenant AND (@kind IS NULL OR kind = @kind) AND (@subject IS NULL OR subject = @subject) AND seq > @after
            ORDER BY seq LIMIT @limit
            """).With("tenant", tenant).With("kind", kind).With("subject", subject).With("after", afterSeq ?? 0).With("limit", limit);
        return ReadAll(command);
    }

    /// <summary>Recomputes every link of the chain; the first entry that does not match is reported.</summary>
    public (bool Valid, long Entries, string? Problem) Verify() => Verify(tenant: null);

    /// <summary>
    /// Recomputes every link of the chain, which all tenants share (so nothing can be cut out of
    /// it unseen), but counts and describes only <paramref name="tenant"/>'s entries: a break in
    /// another tenant's entry is reported by its sequence number alone, never its hashes or content.
    /// </summary>
    public (bool Valid, long Entries, string? Problem) Verify(string? tenant)
    {
        using var connection = _database.Open();
        using var command = connection.Command("SELECT seq, at, tenant, kind, actor, subject, detail, prev_hash, hash FROM evidence ORDER BY seq");
        var previous = Genesis;
        long count = 0;
        foreach (var entry in ReadAll(command))
        {
            var own = tenant is null || entry.Tenant == tenant;
            count += own ? 1 : 0;
            if (entry.PreviousHash != previous)
            {
                return (false, count, own
                    ? $"entry {entry.Seq} says the previous hash is {entry.PreviousHash}, but entry {entry.Seq - 1} hashes to {previous}: an entry before it was changed, removed or inserted."
                    : $"the chain breaks at entry {entry.Seq} (not one of this tenant's): an entry before it was changed, removed or inserted. Tell the operator.");
            }
            var expected = HashOf(entry.Seq, entry.At, entry.Tenant, entry.Kind, entry.Actor, entry.Subject, entry.Detail, entry.PreviousHash);
            if (entry.Hash != expected)
            {
                return (false, count, own
                    ? $"entry {entry.Seq} hashes to {expected}, not to the {entry.Hash} stored with it: its content was changed."
                    : $"entry {entry.Seq} (not one of this tenant's) was changed. Tell the operator.");
            }
            previous = entry.Hash;
        }
        return (true, count, null);
    }

    private void WriteBatch(IReadOnlyList<(Pending Entry, TaskCompletionSource? Written)> batch)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        // Replicas share one chain: each batch links to whatever was last written, by anyone.
        _database.LockWriters(transaction);
        var (seq, previous) = (0L, Genesis);
        using (var last = connection.Command("SELECT seq, hash FROM evidence ORDER BY seq DESC LIMIT 1", transaction))
        using (var reader = last.ExecuteReader())
        {
            if (reader.Read())
            {
                (seq, previous) = (reader.GetInt64(0), reader.GetString(1));
            }
        }
        foreach (var (entry, _) in batch)
        {
            seq++;
            var at = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
            var hash = HashOf(seq, at, entry.Tenant, entry.Kind, entry.Actor, entry.Subject, entry.Detail, previous);
            using var insert = connection.Command("INSERT INTO evidence (seq, at, tenant, kind, actor, subject, detail, prev_hash, hash) VALUES (@seq, @at, @tenant, @kind, @actor, @subject, @detail, @prev, @hash)", transaction)
                .With("seq", seq).With("at", at).With("tenant", entry.Tenant).With("kind", entry.Kind).With("actor", entry.Actor)
                .With("subject", entry.Subject).With("detail", entry.Detail).With("prev", previous).With("hash", hash);
            insert.ExecuteNonQuery();
            previous = hash;
        }
        transaction.Commit();
    }

    private static string HashOf(long seq, string at, string tenant, string kind, string actor, string subject, string detail, string previous)
    {
        // Length-prefixed fields: no two different entries serialize to the same bytes.
        var text = string.Join('\n', new[] { seq.ToString(CultureInfo.InvariantCulture), at, tenant, kind, actor, subject, detail, previous }.Select(f => $"{f.Length}:{f}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static List<EvidenceEntry> ReadAll(DbCommand command)
    {
        using var reader = command.ExecuteReader();
        var entries = new List<EvidenceEntry>();
        while (reader.Read())
        {
            entries.Add(new EvidenceEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8)));
        }
        return entries;
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
