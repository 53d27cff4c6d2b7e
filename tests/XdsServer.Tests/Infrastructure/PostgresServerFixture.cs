using Npgsql;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL server for the test run, started from Debian's binaries in a temporary directory
/// on a free loopback port (or the one ZENMESH_TEST_POSTGRES names). Each test gets a fresh database.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private string? _dataDirectory;
    private string? _binDirectory;
    private string _adminConnectionString = "";
    private Testcontainers.PostgreSql.PostgreSqlContainer? _container;

    /// <summary>Pinned: the PostgreSQL image used where no local server can be started.</summary>
    public const string PostgresImage = "postgres:16.4-alpine";

    public async Task InitializeAsync()
    {
        if (LocalPostgres.Unavailable is not null)
        {
            return;
        }
        if (LocalPostgres.ExternalConnectionString is { } external)
        {
            _adminConnectionString = external;
            return;
        }
        if (LocalPostgres.UseContainer)
        {
            _container = new Testcontainers.PostgreSql.PostgreSqlBuilder(PostgresImage).WithUsername("zenmesh").WithPassword("zenmesh").Build();
            await _container.StartAsync();
            _adminConnectionString = new NpgsqlConnectionStringBuilder(_container.GetConnectionString()) { Database = "postgres", Pooling = false }.ConnectionString;
            return;
        }
        _binDirectory = LocalPostgres.BinDirectory()!;
        var root = Directory.CreateTempSubdirectory("zenmesh-pg-").FullName;
        _dataDirectory = Path.Combine(root, "data");
        var asPostgres = LocalPostgres.RunsAsRoot;
        if (asPostgres)
        {
            await LocalPostgres.RunAsync("chown", ["postgres", root], asPostgresUser: false, TimeSpan.FromSeconds(10));
        }
        await LocalPostgres.RunAsync(Path.Combine(_binDirectory, "initdb"), ["-D", _dataDirectory, "-U", "zenmesh", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres, TimeSpan.FromMinutes(2));
        var port = TestPorts.ForAnotherProcess();
        // fsync off: this server holds throwaway test databases; durability is tested on SQLite.
        await LocalPostgres.RunAsync(Path.Combine(_binDirectory, "pg_ctl"),
            ["-D", _dataDirectory, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "-o", $"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"],
            asPostgres, TimeSpan.FromMinutes(2));
        _adminConnectionString = $"Host=127.0.0.1;Port={port};Username=zenmesh;Database=postgres;Pooling=false";
    }

    /// <summary>A new, empty database; its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"zm_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(_adminConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
        if (_dataDirectory is null)
        {
            return;
        }
        await LocalPostgres.RunAsync(Path.Combine(_binDirectory!, "pg_ctl"), ["-D", _dataDirectory, "-m", "immediate", "stop"], LocalPostgres.RunsAsRoot, TimeSpan.FromMinutes(1));
        Directory.Delete(Path.GetDirectoryName(_dataDirectory)!, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresTests : ICollectionFixture<PostgresServerFixture>
{
    public const string Name = "PostgreSQL";
}
