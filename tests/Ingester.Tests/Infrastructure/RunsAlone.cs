namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>Tests that measure the whole process (its allocations) run alone, after the others: another test's work would count as theirs.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "alone";
}
