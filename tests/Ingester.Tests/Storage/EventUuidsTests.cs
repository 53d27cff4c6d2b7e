using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// Event UUIDs from the buffered source are RFC 9562 version 7, as <c>Guid.CreateVersion7</c> makes
/// them: the receive time in their first 48 bits (what partitions and lookups by id read back), the
/// version and variant set, and random bits that do not repeat across refills of the buffer.
/// </summary>
public sealed class EventUuidsTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 9, 30, 15, 123, TimeSpan.FromHours(2));

    [Fact]
    public void New_IsVersion7_WithTheRfcVariant_LikeTheRuntimes()
    {
        var uuids = new EventUuids();
        var runtimes = Guid.CreateVersion7(At);
        for (var i = 0; i < 1000; i++)
        {
            var uuid = uuids.New(At);

            Assert.Equal(7, uuid.Version);
            // Guid.Variant is the whole nibble; RFC 9562's variant is its top two bits, 10 (8 to 11).
            Assert.Equal(0b10, uuid.Variant >> 2);
            Assert.Equal(runtimes.ToString("N")[..12], uuid.ToString("N")[..12]);
        }
        Assert.Equal(0b10, runtimes.Variant >> 2);
    }

    [Fact]
    public void New_CarriesTheReceiveTime_ToTheMillisecond_AndItsPartition()
    {
        var uuid = new EventUuids().New(At);

        Assert.Equal(At.ToUnixTimeMilliseconds(), EventIds.TimeOf(uuid).ToUnixTimeMilliseconds());
        Assert.Equal("20261124", EventIds.PartitionOf(EventIds.Of(uuid)));
    }

    [Fact]
    public void New_NeverRepeats_AcrossManyRefillsOfTheBuffer_AtOneInstant()
    {
        var uuids = new EventUuids();
        var seen = new HashSet<Guid>();
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(seen.Add(uuids.New(At)), $"id {i} repeated an earlier one");
        }
    }

    [Fact]
    public void New_SortsByReceiveTime_AcrossMilliseconds()
    {
        var uuids = new EventUuids();
        var ids = Enumerable.Range(0, 50).Select(i => EventIds.Of(uuids.New(At.AddMilliseconds(i * 7)))).ToList();

        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
    }

    [Fact]
    public void New_Refuses_ATimeBefore1970()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new EventUuids().New(new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.Zero)));
        Assert.Equal("receivedAt", e.ParamName);
    }
}
