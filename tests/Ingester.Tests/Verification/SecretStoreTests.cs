using Microsoft.Extensions.Time.Testing;
using ZenMesh.Secrets;

namespace ZenMesh.Ingester.Tests.Verification;

/// <summary>
/// Secrets come from files in the secrets directory; a rotation (the file rewritten) or a removal
/// takes effect within <see cref="SecretStore.Recheck"/> without a restart.
/// </summary>
public sealed class SecretStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-secrets-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly SecretStore _store;

    public SecretStoreTests() => _store = new SecretStore(_dir, _time);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string name, string text, DateTime written)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        File.SetLastWriteTimeUtc(path, written);
    }

    [Fact]
    public void Rotation_IsSeenOnceTheRecheckIntervalHasPassed_AndRemovalToo()
    {
        var written = new DateTime(2026, 11, 23, 10, 0, 0, DateTimeKind.Utc);
        Write("gh", "whsec_one\n", written);
        Assert.Equal(["whsec_one"], _store.Get("gh"));

        Write("gh", "whsec_two\nwhsec_one\n", written.AddMinutes(1));
        Assert.Equal(["whsec_one"], _store.Get("gh"));
        _time.Advance(SecretStore.Recheck);
        Assert.Equal(["whsec_two", "whsec_one"], _store.Get("gh"));

        File.Delete(Path.Combine(_dir, "gh"));
        _time.Advance(SecretStore.Recheck);
        Assert.Null(_store.Get("gh"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("../etc/passwd")]
    [InlineData("a\\b")]
    public void Names_ThatCouldLeaveTheDirectory_AreNotSecrets(string name) => Assert.Null(_store.Get(name));

    [Fact]
    public void A_SecretAddedAfterAMiss_IsFoundAfterTheRecheck()
    {
        Assert.Null(_store.Get("late"));
        Write("late", "s3cret\n", DateTime.UtcNow);
        _time.Advance(SecretStore.Recheck);
        Assert.Equal(["s3cret"], _store.Get("late"));
    }
}
