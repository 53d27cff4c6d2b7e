using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>
/// Append-only, hash-chained record of every desired-state change and every ACK/NACK an edge sends.
/// One writer task owns the chain: it takes entries from a channel, links each to the hash of the
/// one before, and writes them in batches, one transaction per batch. Verify walks the chain.
/// </summary>
public sealed class EvidenceLedger : IAsyncDisposable
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    private readonly Storage.SqliteDatabase _database;
    private readonly TimeProvider _time;
    private readonly Channel<(Pending Entry, TaskCompletionSource? Written)> _queue = Channel.CreateUnbounded<(Pending, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private long _lastSeq;
    private string _lastHash = Genesis;

    private sealed record Pending(string Tenant, string Kind, string Actor, string Subject, string Detail);

    public EvidenceLedger(string dataDirectory, TimeProvider time)
    {
        _time = time;
        _database = new Storage.SqliteDatabase(dataDirectory);
        using var connection = _database.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS evidence (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)";
            create.ExecuteNonQuery();
        }
        using var last = connection.CreateCommand();
        last.CommandText = "SELECT seq, hash FROM evidence ORDER BY seq DESC LIMIT 1";
        using var reader = last.ExecuteReader();
        if (reader.Read())
        {
            (_lastSeq, _lastHash) = (reader.GetInt64(0), reader.GetString(1));
        }
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Records an entry and waits until it is durably written (desired-state changes).</summary>
    public Task AppendAsync(string tenant, string kind, string actor, string subject, string detail)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite((new Pending(tenant, kind, actor, subject, detail), written)) ? written.Task : Task.FromException(new ObjectDisposedException(nameof(EvidenceLedger)));
    }

    /// <summary>Records an entry without waiting (ACKs and NACKs from the xDS streams).</summary>
    public void Record(string tenant, string kind, string actor, string subject, string detail) =>
        _queue.Writer.TryWrite((new Pending(tenant, kind, actor, subject, detail), null));

    public IReadOnlyList<EvidenceEntry> Read(string tenant, string? kind, string? subject, long? afterSeq, int limit)
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT seq, at, tenant, kind, actor, subject, detail, prev_hash, hash FROM evidence
            WHERE tenant = $tenant AND ($kind IS NULL OR kind = $kind) AND ($subject IS NULL OR subject = $subject) AND seq > $after
            ORDER BY seq LIMIT $limit
            """;
        command.Parameters.AddWithValue("$tenant", tenant);
        command.Parameters.AddWithValue("$kind", (object?)kind ?? DBNull.Value);
        command.Parameters.AddWithValue("$subject", (object?)subject ?? DBNull.Value);
        command.Parameters.AddWithValue("$after", afterSeq ?? 0);
        command.Parameters.AddWithValue("$limit", limit);
        return ReadAll(command);
    }

    /// <summary>Recomputes every link of the chain; the first entry that does not match is reported.</summary>
    public (bool Valid, long Entries, string? Problem) Verify()
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, at, tenant, kind, actor, subject, detail, prev_hash, hash FROM evidence ORDER BY seq";
        var previous = Genesis;
        long count = 0;
        foreach (var entry in ReadAll(command))
        {
            count++;
            if (entry.PreviousHash != previous)
            {
                return (false, count, $"entry {entry.Seq} says the previous hash is {entry.PreviousHash}, but entry {entry.Seq - 1} hashes to {previous}: an entry before it was changed, removed or inserted.");
            }
            var expected = HashOf(entry.Seq, entry.At, entry.Tenant, entry.Kind, entry.Actor, entry.Subject, entry.Detail, entry.PreviousHash);
            if (entry.Hash != expected)
            {
                return (false, count, $"entry {entry.Seq} hashes to {expected}, not to the {entry.Hash} stored with it: its content was changed.");
            }
            previous = entry.Hash;
        }
        return (true, count, null);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<(Pending Entry, TaskCompletionSource? Written)>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < 512 && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            try
            {
                WriteBatch(batch);
                batch.ForEach(b => b.Written?.TrySetResult());
            }
            catch (SqliteException e)
            {
                batch.ForEach(b => b.Written?.TrySetException(e));
            }
        }
    }

    private void WriteBatch(List<(Pending Entry, TaskCompletionSource? Written)> batch)
    {
        using var connection = _database.Open();
        using var transaction = connection.BeginTransaction();
        var (seq, previous) = (_lastSeq, _lastHash);
        foreach (var (entry, _) in batch)
        {
            seq++;
            var at = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
            var hash = HashOf(seq, at, entry.Tenant, entry.Kind, entry.Actor, entry.Subject, entry.Detail, previous);
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO evidence (seq, at, tenant, kind, actor, subject, detail, prev_hash, hash) VALUES ($seq, $at, $tenant, $kind, $actor, $subject, $detail, $prev, $hash)";
            insert.Parameters.AddWithValue("$seq", seq);
            insert.Parameters.AddWithValue("$at", at);
            insert.Parameters.AddWithValue("$tenant", entry.Tenant);
            insert.Parameters.AddWithValue("$kind", entry.Kind);
            insert.Parameters.AddWithValue("$actor", entry.Actor);
            insert.Parameters.AddWithValue("$subject", entry.Subject);
            insert.Parameters.AddWithValue("$detail", entry.Detail);
            insert.Parameters.AddWithValue("$prev", previous);
            insert.Parameters.AddWithValue("$hash", hash);
            insert.ExecuteNonQuery();
            previous = hash;
        }
        transaction.Commit();
        (_lastSeq, _lastHash) = (seq, previous);
    }

    private static string HashOf(long seq, string at, string tenant, string kind, string actor, string subject, string detail, string previous)
    {
        // Length-prefixed fields: no two different entries serialize to the same bytes.
        var text = string.Join('\n', new[] { seq.ToString(CultureInfo.InvariantCulture), at, tenant, kind, actor, subject, detail, previous }.Select(f => $"{f.Length}:{f}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static List<EvidenceEntry> ReadAll(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var entries = new List<EvidenceEntry>();
        while (reader.Read())
        {
            entries.Add(new EvidenceEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8)));
        }
        return entries;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }
}
