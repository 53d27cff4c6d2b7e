using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Hosting;

/// <summary>Bad store settings stop the ingester before it starts, each naming the setting and a value that works; the embedded store is SQLite, and a data directory the removed log store left is refused, saying how to drain it.</summary>
public sealed class IngesterOptionsTests
{
    [Fact]
    public void AnUnknownStore_AndTheRemovedLogStore_AreRefused_SayingWhatToDo()
    {
        var unknown = Assert.Throws<OptionsValidationException>(() => IngesterApp.Build(["--store", "rocks"]));
        var log = Assert.Throws<OptionsValidationException>(() => IngesterApp.Build(["--store", "log"]));

        Assert.Equal(["Ingester:Store (--store) 'rocks' is not a store; the embedded store is 'sqlite' (leave --store out), or give --postgres for several ingesters."], unknown.Failures);
        Assert.Equal(["Ingester:Store (--store) 'log': the log store was removed; the embedded store is SQLite. Leave --store out (a data directory that still holds log events is refused at start, saying how to drain it)."], log.Failures);
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
    public async Task ANewDataDirectory_GetsSqlite_AndOneTheLogStoreLeft_IsRefused_SayingHowToDrainIt()
    {
        var root = Directory.CreateTempSubdirectory("zenmesh-default-store-").FullName;
        try
        {
            var fresh = Path.Combine(root, "fresh");
            var left = Path.Combine(root, "left");
            Directory.CreateDirectory(Path.Combine(left, "log"));
            await File.WriteAllBytesAsync(Path.Combine(left, "log", "00000000000000000001.seg"), new byte[64]);

            await using var onFresh = IngesterApp.Build(["--data-dir", fresh]);
            await using var onLeft = IngesterApp.Build(["--data-dir", left]);

            Assert.IsType<SqliteEventStore>(onFresh.Services.GetRequiredService<IEventStore>());
            var refused = Assert.Throws<InvalidOperationException>(() => onLeft.Services.GetRequiredService<IEventStore>());
            Assert.Equal(
                $"the data directory {left} holds events of the log store ({Path.Combine(left, "log")}), which this version no longer has (the embedded store is SQLite now), "
                + "and starting beside them would leave their undelivered jobs behind. Drain it first: run the previous version on this data directory until its /status shows no open jobs "
                + $"(the egress has taken every one), then move {Path.Combine(left, "log")} away and start this version; or give this version a --data-dir of its own.",
                refused.Message);
            Assert.False(File.Exists(Path.Combine(left, "events.db")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
