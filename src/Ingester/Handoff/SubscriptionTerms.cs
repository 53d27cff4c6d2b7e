using Google.Protobuf.WellKnownTypes;
using ZenMesh.Contracts.V1;

namespace ZenMesh.Ingester.Handoff;

/// <summary>A subscriber's terms, checked once when its stream opens; every problem is named in one message.</summary>
public sealed record SubscriptionTerms(string Consumer, IReadOnlySet<string>? Flows, int MaxUnacked, TimeSpan Lease)
{
    public const int DefaultMaxUnacked = 100;
    public const int MostUnacked = 10_000;
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan ShortestLease = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan LongestLease = TimeSpan.FromHours(1);

    public static SubscriptionTerms Of(Subscription subscription, out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        if (subscription.MaxUnacked > MostUnacked)
        {
            found.Add($"max_unacked is {subscription.MaxUnacked}; use 1 to {MostUnacked} (0 means {DefaultMaxUnacked}).");
        }
        var lease = DefaultLease;
        if (subscription.Lease is { } given)
        {
            lease = given.Seconds < 0 || given.Nanos < 0 ? TimeSpan.MinValue : given.ToTimeSpan();
            if (lease < ShortestLease || lease > LongestLease)
            {
                found.Add($"lease is {FormatDuration(given)}; use 1s to 3600s (absent means 30s).");
            }
        }
        if (subscription.Flows.Any(string.IsNullOrWhiteSpace))
        {
            found.Add("flows has an empty name; list flow names, or none for every flow.");
        }
        problems = found;
        var flows = subscription.Flows.Count == 0 ? null : subscription.Flows.ToHashSet(StringComparer.Ordinal);
        var consumer = subscription.Consumer.Length > 0 ? subscription.Consumer : "unnamed";
        return new SubscriptionTerms(consumer, flows, subscription.MaxUnacked == 0 ? DefaultMaxUnacked : (int)subscription.MaxUnacked, lease);
    }

    private static string FormatDuration(Duration d) => $"{d.Seconds}s{(d.Nanos != 0 ? $" {d.Nanos}ns" : "")}";
}
