using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// One prepared SQLite statement, bound and stepped through SQLitePCL directly, for the writer's
/// per-event statements. Microsoft.Data.Sqlite allocates a binder per parameter, a UTF-8 copy of
/// every string and a data reader per execution; under load that was a tenth of what the intake
/// allocated. Here strings are bound as UTF-16 spans (SQLite converts them natively) and nothing is
/// allocated per execution. Parameters are positional (?1, ?2, ...).
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _statement));
    }

    public RawStatement Bind(int index, string? value)
    {
        Check(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text16(_statement, index, value.AsSpan()));
        return this;
    }

    public RawStatement Bind(int index, ReadOnlySpan<char> value)
    {
        Check(raw.sqlite3_bind_text16(_statement, index, value));
        return this;
    }

    /// <summary>Text that is UTF-8 already (SQLite's own encoding here): bound without a conversion.</summary>
    public RawStatement BindUtf8Text(int index, ReadOnlySpan<byte> utf8)
    {
        Check(raw.sqlite3_bind_text(_statement, index, utf8));
        return this;
    }

    public RawStatement Bind(int index, ReadOnlySpan<byte> blob)
    {
        Check(raw.sqlite3_bind_blob(_statement, index, blob));
        return this;
    }

    /// <summary>Runs a statement that returns no rows; the rows it changed.</summary>
    public int Execute()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>The first column of the first row as text, or null when there is no row.</summary>
    public string? Text()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_ROW)
            {
                return raw.sqlite3_column_text(_statement, 0).utf8_to_string();
            }
            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
            return null;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>The first column of the first row, a blob of exactly <paramref name="into"/>'s length, copied there; false when there is no row.</summary>
    public bool Blob(Span<byte> into)
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_ROW)
            {
                var blob = raw.sqlite3_column_blob(_statement, 0);
                if (blob.Length != into.Length)
                {
                    throw new InvalidDataException($"a {blob.Length}-byte value where {into.Length} bytes belong");
                }
                blob.CopyTo(into);
                return true;
            }
            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
            return false;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    // The same exception Microsoft.Data.Sqlite throws, so the writer's DbException handling (answer 503, lose nothing) holds.
    private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _db);

    public void Dispose() => _statement.Dispose();
}
