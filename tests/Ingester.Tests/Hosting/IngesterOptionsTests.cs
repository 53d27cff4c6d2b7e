using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Storage.Log;

namespace ZenMesh.Ingester.Tests.Hosting;

/// <summary>Bad store settings stop the ingester before it starts, each naming the setting and a value that works; without --store, the data directory decides.</summary>
public sealed class IngesterOptionsTests
{
    [Fact]
    public void AnUnknownStore_AndASegmentSizeOutOfRange_AreBothReported()
    {
        var e = Assert.Throws<OptionsValidationException>(() => IngesterApp.Build(["--store", "rocks", "--Ingester:LogSegmentBytes", "4096"]));

        Assert.Contains("Ingester:Store (--store) 'rocks' is not a store; use 'log' or 'sqlite', or leave it unset for the store the data directory already holds ('log' for a new one).", e.Failures);
        Assert.Contains("Ingester:LogSegmentBytes 4096 must be between 1 MiB and 1 GiB (default 67108864).", e.Failures);
    }

    [Fact]
    public async Task TheConnectionString_ComesFromAFile_NotTheCommandLine()
    {
        var dir = Directory.CreateTempSubdirectory("zenmesh-pg-file-").FullName;
        var file = Path.Combine(dir, "postgres");
        await File.WriteAllTextAsync(file, "Host=db.internal;Database=zenmesh_edge;Username=zenmesh_edge;Password=not-on-the-command-line\n");

        await using var app = IngesterApp.Build(["--postgres-file", file, "--data-dir", dir]);
        var missing = Assert.Throws<OptionsValidationException>(() => IngesterApp.Build(["--postgres-file", Path.Combine(dir, "nope")]));

        Assert.Equal("Host=db.internal;Database=zenmesh_edge;Username=zenmesh_edge;Password=not-on-the-command-line", app.Services.GetRequiredService<IOptions<IngesterOptions>>().Value.Postgres);
        Assert.Equal([$"Ingester:PostgresFile (--postgres-file) '{Path.Combine(dir, "nope")}' does not exist; name the file that holds the connection string."], missing.Failures);
    }

    [Fact]
    public async Task WithoutStore_ANewDataDirectoryGetsTheLog_AndOneWhereSqliteKeepsEventsKeepsSqlite()
    {
        var root = Directory.CreateTempSubdirectory("zenmesh-default-store-").FullName;
        try
        {
            var fresh = Path.Combine(root, "fresh");
            var upgraded = Path.Combine(root, "upgraded");
            await using (new SqliteEventStore(Options.Create(new IngesterOptions { DataDir = upgraded }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance))
            {
            }

            await using var onFresh = IngesterApp.Build(["--data-dir", fresh]);
            await using var onUpgraded = IngesterApp.Build(["--data-dir", upgraded]);

            Assert.IsType<LogEventStore>(onFresh.Services.GetRequiredService<IEventStore>());
            Assert.IsType<SqliteEventStore>(onUpgraded.Services.GetRequiredService<IEventStore>());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
