using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>The embedded store's contract, against SQLite (events.db).</summary>
public sealed class SqliteEventStoreTests : EmbeddedStoreContract
{
    protected override IEventStore Open(IngesterOptions options, TimeProvider time) =>
        new SqliteEventStore(Options.Create(options), time, NullLogger<SqliteEventStore>.Instance);
}
