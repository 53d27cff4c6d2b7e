using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;

namespace ZenMesh.Egress.Tests.Api;

/// <summary>Bad switches stop the egress before it starts, each problem naming the setting and a value that works.</summary>
public sealed class EgressOptionsTests
{
    [Fact]
    public void BadSwitches_AreAllReported_WithWhatToUse()
    {
        var e = Assert.Throws<OptionsValidationException>(() => EgressApp.Build(["--port", "70000", "--edge", "nodash", "--ingester", "localhost:8091", "--envoy", "ftp://x", "--bind", "here"]));

        Assert.Contains(e.Failures, f => f.Contains("Egress:Port (--port) 70000", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Egress:Edge (--edge) is 'nodash'", StringComparison.Ordinal) && f.Contains("tenant/edge", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Egress:Ingester (--ingester) 'localhost:8091'", StringComparison.Ordinal) && f.Contains("http://127.0.0.1:8091", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Egress:Envoy (--envoy) 'ftp://x'", StringComparison.Ordinal) && f.Contains("--direct", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Egress:BindAddress (--bind) 'here'", StringComparison.Ordinal));
    }

    [Fact]
    public void ValueOfTheWrongType_IsAnOptionsError_NamingTheSetting()
    {
        var e = Assert.Throws<OptionsValidationException>(() => EgressApp.Build(["--port", "x"]));
        Assert.Contains("'x' at 'Egress:Port'", Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Direct_IsAFlagWithoutAValue()
    {
        var dir = Directory.CreateTempSubdirectory("zenmesh-egress-opts-").FullName;
        await using (var app = EgressApp.Build(["--direct", "--port", "0", "--data-dir", dir]))
        {
            Assert.True(app.Services.GetService(typeof(IOptions<EgressOptions>)) is IOptions<EgressOptions> { Value.Direct: true });
        }
        Directory.Delete(dir, recursive: true);
    }
}
