using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>
/// Webhooks through a real ingester and egress to targets written here: redelivered after
/// failures with the same webhook-id, signed so the target can verify (both secrets during a
/// rotation), Retry-After honoured, 410 holding the flow until resumed, and a target down for the
/// whole horizon dead-lettered with every attempt kept. What is about time (a redelivery's delay,
/// Retry-After, the horizon) runs the egress on a clock the test moves.
/// </summary>
public sealed class DeliveryTests
{
    /// <summary>A fake clock that also says when some timer is set to fire at a given time.</summary>
    private sealed class WatchedClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly System.Collections.Concurrent.ConcurrentBag<DateTimeOffset> _firings = [];

        public bool HasTimerFiringAt(DateTimeOffset at) => _firings.Contains(at);

        public string Firings => string.Join(", ", _firings.Order().Select(f => f.ToString("HH:mm:ss.fffffff", global::System.Globalization.CultureInfo.InvariantCulture)));

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                _firings.Add(GetUtcNow() + dueTime);
            }
            return timer;
        }
    }

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    /// <summary>A clock this test moves, in whole milliseconds (as the store keeps times), from the machine's now.</summary>
    private static WatchedClock Clock() => new(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

    /// <summary>Waits until the egress holds <paramref name="jobId"/> pending for a redelivery and has a timer set for it; its due time.</summary>
    private static async Task<DateTimeOffset> WaitingForRedeliveryAsync(Mesh mesh, WatchedClock clock, string jobId, int attempts)
    {
        Storage.Delivery? stored = null;
        await TestTimeouts.Eventually(async () => (stored = await mesh.Store.GetAsync(jobId, CancellationToken.None)) is { } d && d.Attempts == attempts && d.State == DeliveryStates.Pending, $"attempt {attempts} recorded");
        var due = stored!.DueAt;
        await TestTimeouts.Eventually(() => Task.FromResult(clock.HasTimerFiringAt(due)), $"the egress waiting for attempt {attempts + 1}, due at {due:O} (timers fire at {clock.Firings}; now {clock.GetUtcNow():O})");
        return due;
    }

    [Fact]
    public async Task FailingTarget_IsRedelivered_WithTheSameWebhookId_UntilItSucceeds()
    {
        // Attempt 1 is three requests (two per-request retries of a 500), attempt 2 is a redelivery that succeeds.
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(n <= 3 ? 500 : 200)(n, http));
        var flow = Mesh.Flow("to-orders", target.Url, Short);
        flow.RequestRetries = 2;
        await using var mesh = await Mesh.StartAsync(flow);

        var eventId = await mesh.SendAsync();
        var delivered = await mesh.WaitForAsync(eventId, "to-orders", DeliveryStates.Delivered);

        Assert.Equal(2, delivered.Attempts);
        Assert.Equal(4, target.Requests.Count);
        Assert.All(target.Requests, r => Assert.Equal($"{eventId}/to-orders", r.Headers["webhook-id"]));
        var attempts = await mesh.Store.AttemptsAsync(delivered.JobId, CancellationToken.None);
        Assert.Equal([(500, AttemptOutcomes.Failed, Faults.Target), (200, AttemptOutcomes.Delivered, null)], attempts.Select(a => (a.Status ?? 0, a.Outcome, a.Fault)));
    }

    [Fact]
    public async Task ARedelivery_WaitsForItsDelay_OnTheEgresssClock_AndComesWhenItIsUp()
    {
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(n == 1 ? 500 : 200)(n, http));
        var clock = Clock();
        await using var mesh = await Mesh.StartOnClockAsync(clock, Mesh.Flow("to-orders", target.Url, Short));

        var eventId = await mesh.SendAsync();
        var due = await WaitingForRedeliveryAsync(mesh, clock, $"{eventId}/to-orders", attempts: 1);
        // Up to a millisecond short of the due time: the egress's clock says not yet, so nothing is sent.
        clock.Advance(due - clock.GetUtcNow() - TimeSpan.FromMilliseconds(1));
        Assert.Single(target.Requests);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var delivered = await mesh.WaitForAsync(eventId, "to-orders", DeliveryStates.Delivered);

        Assert.Equal((2, 2), (delivered.Attempts, target.Requests.Count));
        Assert.All(target.Requests, r => Assert.Equal($"{eventId}/to-orders", r.Headers["webhook-id"]));
        var attempts = await mesh.Store.AttemptsAsync(delivered.JobId, CancellationToken.None);
        // The schedule's delay (10% jitter) after the failed attempt was answered, on the egress's clock.
        var answered = attempts[0].At + TimeSpan.FromMilliseconds(attempts[0].LatencyMs);
        Assert.InRange((attempts[1].At - answered).TotalMilliseconds, Short.TotalMilliseconds * 0.9 - 1, Short.TotalMilliseconds * 1.1 + 1);
    }

    [Fact]
    public async Task Deliveries_AreSigned_WithEveryActiveSecret_AndVerify()
    {
        var current = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var previous = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var target = await TestTarget.StartAsync(TestTarget.Status(204));
        var flow = Mesh.Flow("signed", target.Url);
        flow.SigningSecretRef = "signing";
        await using var mesh = await Mesh.StartAsync(flow);
        await File.WriteAllTextAsync(Path.Combine(mesh.SecretsDir, "signing"), $"{current}\n{previous}\n");

        var eventId = await mesh.SendAsync("""{"type":"order.paid"}""");
        await mesh.WaitForAsync(eventId, "signed", DeliveryStates.Delivered);

        var request = Assert.Single(target.Requests);
        var signatures = request.Headers["webhook-signature"].Split(' ');
        Assert.Equal(2, signatures.Length);
        foreach (var secret in new[] { current, previous })
        {
            // The receiver's side of Standard Webhooks, written out here: HMAC over "{id}.{timestamp}.{body}".
            var key = Convert.FromBase64String(secret["whsec_".Length..]);
            var signed = Encoding.UTF8.GetBytes($"{request.Headers["webhook-id"]}.{request.Headers["webhook-timestamp"]}.").Concat(request.Body).ToArray();
            Assert.Contains("v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed)), signatures);
        }
        Assert.InRange(long.Parse(request.Headers["webhook-timestamp"]), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("""{"type":"order.paid"}""", Encoding.UTF8.GetString(request.Body));
        Assert.Equal("order.paid", request.Headers["x-zenmesh-event-type"]);
    }

    [Fact]
    public async Task MissingSigningSecret_IsZenMeshsFault_AndNothingIsSent()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        var flow = Mesh.Flow("unsigned-by-mistake", target.Url, TimeSpan.FromMinutes(10));
        flow.SigningSecretRef = "not-there";
        await using var mesh = await Mesh.StartAsync(flow);

        var eventId = await mesh.SendAsync();
        Attempt? attempt = null;
        await TestTimeouts.Eventually(async () => (attempt = (await mesh.Store.AttemptsAsync($"{eventId}/unsigned-by-mistake", CancellationToken.None)) is [var a, ..] ? a : null) is not null, "the first attempt is logged");

        Assert.Equal((AttemptOutcomes.NotSent, Faults.ZenMesh), (attempt!.Outcome, attempt.Fault));
        Assert.Contains("'not-there'", attempt.Detail);
        Assert.Empty(target.Requests);
    }

    [Fact]
    public async Task TooManyRequests_WithRetryAfter_IsTriedAgainNoSoonerThanAsked()
    {
        await using var target = await TestTarget.StartAsync((n, http) =>
        {
            if (n == 1)
            {
                http.Response.StatusCode = 429;
                http.Response.Headers.RetryAfter = "1";
            }
            return Task.CompletedTask;
        });
        // The schedule alone would come back after 50 ms; the target asked for a second.
        var clock = Clock();
        await using var mesh = await Mesh.StartOnClockAsync(clock, Mesh.Flow("throttled", target.Url, TimeSpan.FromMilliseconds(50)));

        var eventId = await mesh.SendAsync();
        var due = await WaitingForRedeliveryAsync(mesh, clock, $"{eventId}/throttled", attempts: 1);
        var attempts = await mesh.Store.AttemptsAsync($"{eventId}/throttled", CancellationToken.None);
        Assert.Equal(AttemptOutcomes.RetryAfter, attempts[0].Outcome);
        Assert.True(due - attempts[0].At >= TimeSpan.FromSeconds(1), $"due {due - attempts[0].At} after the 429");
        // Past the schedule's 50 ms and up to a millisecond short of the second asked for: no request.
        clock.Advance(due - clock.GetUtcNow() - TimeSpan.FromMilliseconds(1));
        Assert.Single(target.Requests);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await mesh.WaitForAsync(eventId, "throttled", DeliveryStates.Delivered);

        Assert.Equal(2, target.Requests.Count);
    }

    [Fact]
    public async Task Gone_HoldsTheFlow_UntilResumed_ThenItsJobsAreDelivered()
    {
        var gone = true;
        await using var target = await TestTarget.StartAsync((_, http) => TestTarget.Status(Volatile.Read(ref gone) ? 410 : 200)(0, http));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("retired", target.Url, TimeSpan.FromMilliseconds(50)));

        var first = await mesh.SendAsync("""{"type":"a","n":1}""");
        await TestTimeouts.Eventually(async () => (await mesh.GetJsonAsync("/status")).GetProperty("flows")[0].GetProperty("held").ValueKind == System.Text.Json.JsonValueKind.Object, "the flow is held");
        var second = await mesh.SendAsync("""{"type":"a","n":2}""");
        // The lane itself reports that it looked with both jobs there (the first put back after its 410) and stayed held: from
        // then on nothing can go out before a resume, so what the target has seen is final.
        JsonElement held = default;
        await TestTimeouts.Eventually(async () => (held = (await mesh.GetJsonAsync("/status")).GetProperty("flows")[0].GetProperty("held")).GetProperty("waiting") is { ValueKind: JsonValueKind.Number } w && w.GetInt64() == 2, "the held lane counts both jobs waiting behind the hold");

        Assert.Single(target.Requests);
        Assert.Contains("410", held.GetProperty("reason").GetString());
        Assert.Equal(DeliveryStates.Pending, (await mesh.Store.GetAsync($"{second}/retired", CancellationToken.None))!.State);

        Volatile.Write(ref gone, false);
        using var resumed = await mesh.Api.PostAsync("/flows/default/retired/resume", null);
        Assert.Equal(System.Net.HttpStatusCode.OK, resumed.StatusCode);
        await mesh.WaitForAsync(first, "retired", DeliveryStates.Delivered);
        await mesh.WaitForAsync(second, "retired", DeliveryStates.Delivered);
        using var again = await mesh.Api.PostAsync("/flows/default/retired/resume", null);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task TargetDown_ForTheWholeHorizon_IsDeadLettered_WithEveryAttempt_OnTheSchedule()
    {
        // Nothing listens on the target's port.
        var (held, port) = TestPorts.Refusing();
        using var refusing = held;
        var down = new Uri($"http://127.0.0.1:{port}/hook");
        // The egress on a clock this test moves: tried every 100 ms, dead 450 ms after the first attempt.
        var clock = Clock();
        await using var mesh = await Mesh.StartOnClockAsync(clock, Mesh.ShortLived("to-nowhere", down, horizonMs: 450));

        var eventId = await mesh.SendAsync();
        var jobId = $"{eventId}/to-nowhere";
        for (var n = 1; n <= 10; n++)
        {
            Storage.Delivery? stored = null;
            await TestTimeouts.Eventually(async () => (stored = await mesh.Store.GetAsync(jobId, CancellationToken.None)) is { } d && (d.Attempts >= n || d.State == DeliveryStates.Dead), $"attempt {n}");
            if (stored!.State == DeliveryStates.Dead)
            {
                break;
            }
            // Moved only once the egress waits for exactly the next due time, so it cannot miss it.
            var due = stored.DueAt;
            await TestTimeouts.Eventually(() => Task.FromResult(clock.HasTimerFiringAt(due)), $"the egress waiting for attempt {n + 1}, due at {due:O} (timers fire at {clock.Firings}; now {clock.GetUtcNow():O})");
            clock.Advance(due - clock.GetUtcNow());
        }
        var dead = await mesh.WaitForAsync(eventId, "to-nowhere", DeliveryStates.Dead);

        var attempts = await mesh.Store.AttemptsAsync(dead.JobId, CancellationToken.None);
        // At 0, 100, 200, 300 and 400 ms after the first; the next would be past the 450 ms horizon.
        // Each redelivery came exactly when the schedule said: 100 ms (10% jitter) after the previous
        // answer (a refused connection still takes a few real milliseconds), never sooner; none past
        // the 450 ms horizon; and the next would have been past it, so the job is dead.
        var first = attempts[0].At;
        for (var k = 1; k < attempts.Count; k++)
        {
            var answered = attempts[k - 1].At + TimeSpan.FromMilliseconds(attempts[k - 1].LatencyMs);
            Assert.InRange((attempts[k].At - answered).TotalMilliseconds, 90, 110);
        }
        Assert.All(attempts, a => Assert.True(a.At - first <= TimeSpan.FromMilliseconds(450), $"an attempt {(a.At - first).TotalMilliseconds} ms after the first, past the horizon"));
        var last = attempts[^1];
        Assert.True(last.At + TimeSpan.FromMilliseconds(last.LatencyMs + 110) > first + TimeSpan.FromMilliseconds(450), "dead although the next attempt could have come inside the horizon");
        Assert.True(attempts.Count >= 2, "no redelivery at all");
        Assert.All(attempts, a => Assert.Equal((AttemptOutcomes.Failed, Faults.Target, (int?)null), (a.Outcome, a.Fault, a.Status)));
        Assert.Contains("could not reach the target", attempts[0].Detail);
        var listed = await mesh.GetJsonAsync("/deliveries?state=dead&flow=to-nowhere");
        Assert.Equal(dead.JobId, Assert.Single(listed.GetProperty("deliveries").EnumerateArray()).GetProperty("jobId").GetString());
    }
}
