using Xunit.Abstractions;
using Xunit.Sdk;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A store that needs PostgreSQL: the contract's tests are skipped for it, with the reason, where none can be had.</summary>
internal interface INeedsPostgres;

/// <summary>
/// A test of a store contract (the egress's deliveries, the ingester's events), written once and run for every store: for a class that
/// needs PostgreSQL where none can be had it is reported skipped with the reason, as
/// <see cref="PostgresFactAttribute"/> would.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
// Linked into each test project that has a store contract: the discoverer is named in the assembly it is compiled into.
[XunitTestCaseDiscoverer("ZenMesh.XdsServer.Tests.Infrastructure.StoreFactDiscoverer", TestAssembly.Name)]
public sealed class StoreFactAttribute : FactAttribute;

public sealed class StoreFactDiscoverer(IMessageSink diagnostics) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var display = discoveryOptions.MethodDisplayOrDefault();
        var displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        if (typeof(INeedsPostgres).IsAssignableFrom(testMethod.TestClass.Class.ToRuntimeType()) && LocalPostgres.Unavailable is { } reason)
        {
            return [new XunitSkippedDataRowTestCase(diagnostics, display, displayOptions, testMethod, reason)];
        }
        return [new XunitTestCase(diagnostics, display, displayOptions, testMethod)];
    }
}
