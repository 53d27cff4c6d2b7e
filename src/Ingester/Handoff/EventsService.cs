using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Handoff;

/// <summary>
/// zenmesh.v1.Events/Subscribe: an egress takes delivery jobs over a stream it opens. The writer
/// loop leases jobs while the subscriber has room (max_unacked), the reader loop takes its
/// acknowledgements and makes them durable. A job whose lease runs out counts no more against the
/// subscriber's room and is handed out again; the jobs a subscriber still holds when its stream
/// ends are given back at once, so a restarted egress does not wait out the leases.
/// </summary>
internal sealed partial class EventsService(IEventStore store, HandoffCounters counters, SubscriberAuthentication authentication, TimeProvider time, ILogger<EventsService> logger) : Events.EventsBase
{
    /// <summary>How often an idle stream looks again anyway: another ingester's jobs, or leases that ran out.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    public override async Task Subscribe(IAsyncStreamReader<SubscribeRequest> requestStream, IServerStreamWriter<DeliveryJob> responseStream, ServerCallContext context)
    {
        authentication.Check(context);
        var cancellationToken = context.CancellationToken;
        if (!await requestStream.MoveNext(cancellationToken).ConfigureAwait(false) || requestStream.Current.KindCase != SubscribeRequest.KindOneofCase.Subscription)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "the first message on Events/Subscribe must be a subscription (consumer, flows, max_unacked, lease)"));
        }
        var terms = SubscriptionTerms.Of(requestStream.Current.Subscription, out var problems);
        if (problems.Count > 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "subscription refused: " + string.Join(" ", problems)));
        }
        Log.Subscribed(logger, terms.Consumer, terms.Flows is null ? "every flow" : string.Join(", ", terms.Flows), terms.MaxUnacked, terms.Lease);
        counters.Subscribed(+1);
        var held = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        // Every job handed to this subscriber and not yet acknowledged by it, lease run out or not:
        // the only jobs it may acknowledge (another subscriber's are not its to end).
        var leasedHere = new HashSet<string>(StringComparer.Ordinal);
        var acked = new JobSignal();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = ReadAcksAsync(requestStream, held, leasedHere, acked, done);
        try
        {
            while (!done.IsCancellationRequested)
            {
                int room;
                lock (held)
                {
                    var now = time.GetUtcNow();
                    foreach (var expired in held.Where(h => h.Value <= now).Select(h => h.Key).ToList())
                    {
                        held.Remove(expired);
                    }
                    room = terms.MaxUnacked - held.Count;
                }
                var jobs = room > 0 ? await store.LeaseAsync(terms.Flows, Math.Min(room, 256), terms.Lease, done.Token).ConfigureAwait(false) : [];
                foreach (var job in jobs)
                {
                    lock (held)
                    {
                        held[job.JobId] = job.LeaseExpiresAt;
                        leasedHere.Add(job.JobId);
                    }
                    await responseStream.WriteAsync(ToMessage(job), done.Token).ConfigureAwait(false);
                }
                counters.Leased(jobs.Count);
                if (jobs.Count == 0 || jobs.Count == room)
                {
                    bool atLimit;
                    lock (held)
                    {
                        atLimit = held.Count >= terms.MaxUnacked;
                    }
                    // At its limit, nothing more goes to this subscriber until it acknowledges (or a lease runs out).
                    counters.AtLimit(atLimit ? +1 : 0);
                    try
                    {
                        await Task.WhenAny(store.WaitForJobsAsync(Recheck, done.Token), acked.WaitAsync(Recheck, time, done.Token)).ConfigureAwait(false);
                    }
                    finally
                    {
                        counters.AtLimit(atLimit ? -1 : 0);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
            // The subscriber went away, or its acknowledgements failed (the reader says why).
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
            counters.Subscribed(-1);
            List<string> giveBack;
            lock (held)
            {
                giveBack = [.. held.Keys];
            }
            if (giveBack.Count > 0)
            {
                await store.ReleaseAsync(giveBack, CancellationToken.None).ConfigureAwait(false);
            }
            Log.Unsubscribed(logger, terms.Consumer, giveBack.Count);
        }
        await reader.ConfigureAwait(false);
    }

    private async Task ReadAcksAsync(IAsyncStreamReader<SubscribeRequest> requests, Dictionary<string, DateTimeOffset> held, HashSet<string> leasedHere, JobSignal acked, CancellationTokenSource done)
    {
        try
        {
            while (await requests.MoveNext(done.Token).ConfigureAwait(false))
            {
                if (requests.Current.KindCase != SubscribeRequest.KindOneofCase.Acks)
                {
                    throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "after the subscription, send only acks"));
                }
                var sent = requests.Current.Acks.JobIds;
                List<string> ids;
                lock (held)
                {
                    ids = [.. sent.Where(leasedHere.Contains).Distinct(StringComparer.Ordinal)];
                }
                // Durable first: an acknowledgement that is lost to a crash only means the job comes again.
                var known = ids.Count == 0 ? 0 : await store.AckAsync(ids, done.Token).ConfigureAwait(false);
                counters.Acked(known, sent.Count - known);
                lock (held)
                {
                    foreach (var id in ids)
                    {
                        held.Remove(id);
                        leasedHere.Remove(id);
                    }
                }
                acked.Notify();
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
            // The subscriber's connection ended mid-message.
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
        }
    }

    private static DeliveryJob ToMessage(LeasedJob job)
    {
        var message = new DeliveryJob
        {
            JobId = job.JobId,
            EventId = job.EventId,
            Flow = job.Flow,
            Tenant = job.Tenant,
            Endpoint = job.Endpoint,
            EventType = job.EventType ?? "",
            ReceivedAt = Timestamp.FromDateTimeOffset(job.ReceivedAt),
            Body = ByteString.CopyFrom(job.Body),
            HandedOut = (uint)job.HandedOut,
            LeaseExpiresAt = Timestamp.FromDateTimeOffset(job.LeaseExpiresAt),
        };
        if (JsonSerializer.Deserialize<Dictionary<string, string>>(job.HeadersJson) is { } headers)
        {
            message.Headers.Add(headers);
        }
        return message;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3300, Level = LogLevel.Information, Message = "{Consumer} subscribed to {Flows}: at most {MaxUnacked} unacknowledged, lease {Lease}")]
        public static partial void Subscribed(ILogger logger, string consumer, string flows, int maxUnacked, TimeSpan lease);

        [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "{Consumer} unsubscribed; {Held} jobs it held are handed out again")]
        public static partial void Unsubscribed(ILogger logger, string consumer, int held);
    }
}
