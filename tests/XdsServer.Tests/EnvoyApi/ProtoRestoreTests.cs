using System.Diagnostics;
using System.Text.Json.Nodes;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.EnvoyApi;

/// <summary>protos/envoy/restore.mjs, as the build runs it: pinned, integrity-checked, closure only.</summary>
public sealed class ProtoRestoreTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("zenmesh-restore-");

    public void Dispose() => _work.Delete(recursive: true);

    private async Task<(int Exit, string Stdout, string Stderr)> RestoreAsync(Action<JsonObject> edit)
    {
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(RepoPaths.Combine("protos", "envoy", "manifest.json")))!.AsObject();
        edit(manifest);
        var manifestFile = Path.Combine(_work.FullName, "manifest.json");
        await File.WriteAllTextAsync(manifestFile, manifest.ToJsonString());
        var start = new ProcessStartInfo("node", [RepoPaths.Combine("protos", "envoy", "restore.mjs"), "--manifest", manifestFile, "--out", Path.Combine(_work.FullName, "out")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout("restore.mjs", TimeSpan.FromMinutes(2));
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Restore_PinnedManifest_StagesTheImportClosure_WithTheNewerValidateProto()
    {
        var (exit, stdout, stderr) = await RestoreAsync(_ => { });

        Assert.True(exit == 0, stderr);
        Assert.StartsWith("restored ", stdout);
        var closure = await File.ReadAllLinesAsync(Path.Combine(_work.FullName, "out", "closure.txt"));
        Assert.Contains("envoy/service/discovery/v3/ads.proto", closure);
        Assert.Contains("validate/validate.proto", closure);
        Assert.DoesNotContain(closure, p => p.StartsWith("google/protobuf/", StringComparison.Ordinal));
        // protoc-gen-validate 1.0.11 defines ignore_empty, which envoy-api uses; grpc-js-xds's older copy does not.
        Assert.Contains("optional bool ignore_empty", await File.ReadAllTextAsync(Path.Combine(_work.FullName, "out", "validate", "validate.proto")));
    }

    [Fact]
    public async Task Restore_TamperedIntegrity_IsRefused_NamingBothHashes()
    {
        var (exit, _, stderr) = await RestoreAsync(m => m["packages"]![0]!["integrity"] = "sha512-AAAA");

        Assert.Equal(1, exit);
        Assert.StartsWith("error ZMPROTO: @grpc/grpc-js-xds@1.14.1: integrity mismatch. manifest.json pins sha512-AAAA but the registry served sha512-", stderr);
        Assert.Contains("Do not edit the pin unless you meant to change the version.", stderr);
    }

    [Fact]
    public async Task Restore_UnknownEntryProto_IsRefused_SayingWhichFile()
    {
        var (exit, _, stderr) = await RestoreAsync(m => m["entries"]!.AsArray().Add("envoy/not/a/real.proto"));

        Assert.Equal(1, exit);
        Assert.Equal("error ZMPROTO: 'envoy/not/a/real.proto' is imported (or listed in entries) but not found in any include root of manifest.json.", stderr.Trim());
    }
}
