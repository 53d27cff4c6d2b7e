using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Tests.Hosting;

/// <summary>Bad store settings stop the ingester before it starts, each naming the setting and a value that works.</summary>
public sealed class IngesterOptionsTests
{
    [Fact]
    public void AnUnknownStore_AndASegmentSizeOutOfRange_AreBothReported()
    {
        var e = Assert.Throws<OptionsValidationException>(() => IngesterApp.Build(["--store", "rocks", "--Ingester:LogSegmentBytes", "4096"]));

        Assert.Contains("Ingester:Store (--store) 'rocks' is not a store; use 'sqlite' (the default) or 'log'.", e.Failures);
        Assert.Contains("Ingester:LogSegmentBytes 4096 must be between 1 MiB and 1 GiB (default 67108864).", e.Failures);
    }
}
