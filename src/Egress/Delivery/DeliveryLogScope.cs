using System.Collections;

namespace ZenMesh.Egress.Delivery;

/// <summary>The event and flow a log line is about, as named properties (event_id, flow, tenant) for structured logs.</summary>
internal sealed class DeliveryLogScope(string eventId, string flow, string tenant) : IReadOnlyList<KeyValuePair<string, object>>
{
    public int Count => 3;

    public KeyValuePair<string, object> this[int index] => index switch
    {
        0 => KeyValuePair.Create<string, object>("event_id", eventId),
        1 => KeyValuePair.Create<string, object>("flow", flow),
        2 => KeyValuePair.Create<string, object>("tenant", tenant),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>How the text console logger shows the scope.</summary>
    public override string ToString() => $"event {eventId} flow {tenant}/{flow}";
}
