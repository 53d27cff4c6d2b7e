using System.Numerics;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The log store's open jobs, one list per flow, each in log order: a lease for some flows merges
/// their lists from its cursor on, so the jobs of a flow nobody takes (its egress is down) are never
/// walked by the leases of the others. Done jobs (acknowledged, or dropped by retention) stay in
/// place, skipped, until they are half of their list. An acknowledged job is skipped by leases at
/// once, and done once its acknowledgement is in the log. Not thread-safe: the store's lock guards it.
/// </summary>
/// <remarks>
/// A job is a struct with no references in it (its key, its record's length and its state), held in
/// chunks of 2,048 (48 KiB, under the large object heap's threshold). A backlog of a million jobs,
/// which is what an egress down for an hour leaves, is then 24 MB that the collector never marks
/// through: as an object each, the jobs were 74 bytes apiece and most of what every gen2 collection
/// had to mark (bench/README, session 24). A list's chunks are only ever appended to (but for a
/// job's state): a compaction makes new ones. So a checkpoint takes each list's chunk table and
/// length, and reads that prefix later, off the writer.
/// </remarks>
internal sealed class OpenJobs
{
    private const int ChunkBits = 11;
    private const int ChunkSize = 1 << ChunkBits;
    private const int ChunkMask = ChunkSize - 1;
    private const int FirstChunk = 16;

    private readonly Dictionary<string, FlowJobs> _flows = new(StringComparer.Ordinal);

    internal enum JobState : byte
    {
        Open,

        /// <summary>Acknowledged, its record not yet written: never leased again, but still open as far as the log (and a checkpoint) goes.</summary>
        Acked,

        /// <summary>Its acknowledgement is in the log, or retention dropped it: skipped, and removed at the next compaction.</summary>
        Done,
    }

    internal struct Slot
    {
        public JobKey Key;
        public int Length;
        public JobState State;
    }

    private sealed class FlowJobs
    {
        // The first chunk starts small and grows to a whole one (a flow with a handful of jobs should
        // not take 48 KiB); the others are whole from the start.
        public Slot[][] Chunks { get; private set; } = [new Slot[FirstChunk]];

        public int Length { get; private set; }

        public int Done { get; set; }

        public ref Slot this[int index] => ref Chunks[index >> ChunkBits][index & ChunkMask];

        public void Append(JobKey key, int length, JobState state = JobState.Open)
        {
            var chunk = Length >> ChunkBits;
            var at = Length & ChunkMask;
            if (chunk == Chunks.Length)
            {
                // A new table, the old one left as it was: a checkpoint may be reading it.
                var table = new Slot[Chunks.Length * 2][];
                Array.Copy(Chunks, table, Chunks.Length);
                Chunks = table;
            }
            if (Chunks[chunk] is null)
            {
                Chunks[chunk] = new Slot[ChunkSize];
            }
            else if (at == Chunks[chunk].Length)
            {
                // Only the first chunk is ever short. Its copy has the same jobs, in the same states.
                var grown = new Slot[Math.Min(ChunkSize, at * 2)];
                Array.Copy(Chunks[chunk], grown, at);
                Chunks[chunk] = grown;
            }
            Chunks[chunk][at] = new Slot { Key = key, Length = length, State = state };
            Length++;
        }

        /// <summary>Keeps the jobs not done, in new chunks.</summary>
        public void Compact()
        {
            var (chunks, length) = (Chunks, Length);
            var kept = length - Done;
            Chunks = [new Slot[Math.Clamp((int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(kept, 1)), FirstChunk, ChunkSize)]];
            Length = 0;
            Done = 0;
            for (var i = 0; i < length; i++)
            {
                ref var slot = ref chunks[i >> ChunkBits][i & ChunkMask];
                if (slot.State != JobState.Done)
                {
                    Append(slot.Key, slot.Length, slot.State);
                }
            }
        }
    }

    /// <summary>
    /// One flow's jobs as a checkpoint takes them: a chunk table and how much of it is theirs. A job
    /// in it that is not done when read was open, as far as the log goes, at the checkpoint's position;
    /// one done before that is done in it too, as compactions and growth copy each job's state.
    /// </summary>
    internal readonly struct FlowSnapshot(string flow, Slot[][] chunks, int length)
    {
        public string Flow { get; } = flow;

        public int Length { get; } = length;

        /// <summary>The jobs not done as each is read, in log order.</summary>
        public IEnumerable<CheckpointJob> OpenJobs()
        {
            for (var i = 0; i < Length; i++)
            {
                var slot = chunks[i >> ChunkBits][i & ChunkMask];
                if (slot.State != JobState.Done)
                {
                    yield return new CheckpointJob(slot.Key, slot.Length);
                }
            }
        }
    }

    /// <summary>Jobs not done.</summary>
    public long Count { get; private set; }

    /// <summary>Adds a job after every job of its flow (jobs come in log order).</summary>
    public void Add(string flow, JobKey key, int length)
    {
        if (!_flows.TryGetValue(flow, out var jobs))
        {
            _flows[flow] = jobs = new FlowJobs();
        }
        jobs.Append(key, length);
        Count++;
    }

    /// <summary>Each flow's jobs as they stand, for a checkpoint.</summary>
    public List<FlowSnapshot> Open() =>
        [.. _flows.Where(f => f.Value.Length > f.Value.Done).Select(f => new FlowSnapshot(f.Key, f.Value.Chunks, f.Value.Length))];

    /// <summary>Whether the job is open and not acknowledged: one a lease may hand out.</summary>
    public bool IsOpen(OpenJob job) => Find(job, out var flow, out var at) && flow[at].State == JobState.Open;

    /// <summary>Marks the job acknowledged; false if it was acknowledged or done already, or is not here.</summary>
    public bool TryAck(OpenJob job)
    {
        if (!Find(job, out var flow, out var at) || flow[at].State != JobState.Open)
        {
            return false;
        }
        flow[at].State = JobState.Acked;
        return true;
    }

    /// <summary>Ends the job at <paramref name="key"/>, of whichever flow; false if there is none open.</summary>
    public bool End(JobKey key)
    {
        foreach (var (_, flow) in _flows)
        {
            var at = IndexOf(flow, key, inclusive: true);
            if (at < flow.Length && flow[at].Key == key)
            {
                return End(flow, at);
            }
        }
        return false;
    }

    /// <summary>Ends a job; false if it was done already.</summary>
    public bool End(OpenJob job) => Find(job, out var flow, out var at) && End(flow, at);

    /// <summary>Ends every job not done whose key matches; returns how many.</summary>
    public long EndWhere(Func<JobKey, bool> match)
    {
        long ended = 0;
        foreach (var (_, flow) in _flows)
        {
            for (var i = 0; i < flow.Length; i++)
            {
                ref var slot = ref flow[i];
                if (slot.State != JobState.Done && match(slot.Key))
                {
                    slot.State = JobState.Done;
                    flow.Done++;
                    ended++;
                }
            }
            if (flow.Done > 0 && flow.Done * 2 >= flow.Length)
            {
                flow.Compact();
            }
        }
        Count -= ended;
        return ended;
    }

    /// <summary>Up to <paramref name="limit"/> open jobs of <paramref name="flows"/> (null: all) after <paramref name="after"/>, in log order.</summary>
    public List<OpenJob> Page(IReadOnlySet<string>? flows, JobKey after, int limit)
    {
        var heads = new List<(string Name, FlowJobs Flow, int At)>();
        foreach (var (name, flow) in _flows)
        {
            if (flows is null || flows.Contains(name))
            {
                heads.Add((name, flow, IndexOf(flow, after, inclusive: false)));
            }
        }
        var page = new List<OpenJob>(Math.Min(limit, 1024));
        while (page.Count < limit)
        {
            var next = -1;
            for (var h = 0; h < heads.Count; h++)
            {
                var (name, flow, at) = heads[h];
                while (at < flow.Length && flow[at].State != JobState.Open)
                {
                    at++;
                }
                heads[h] = (name, flow, at);
                if (at < flow.Length && (next < 0 || flow[at].Key < heads[next].Flow[heads[next].At].Key))
                {
                    next = h;
                }
            }
            if (next < 0)
            {
                break;
            }
            var (from, jobs, index) = heads[next];
            page.Add(new OpenJob(jobs[index].Key, jobs[index].Length, from));
            heads[next] = (from, jobs, index + 1);
        }
        return page;
    }

    private bool End(FlowJobs flow, int at)
    {
        ref var slot = ref flow[at];
        if (slot.State == JobState.Done)
        {
            return false;
        }
        slot.State = JobState.Done;
        Count--;
        flow.Done++;
        if (flow.Done * 2 >= flow.Length)
        {
            flow.Compact();
        }
        return true;
    }

    private bool Find(OpenJob job, out FlowJobs flow, out int at)
    {
        if (!_flows.TryGetValue(job.Flow, out flow!))
        {
            at = -1;
            return false;
        }
        at = IndexOf(flow, job.Key, inclusive: true);
        return at < flow.Length && flow[at].Key == job.Key;
    }

    /// <summary>The index of the first job at (inclusive) or after <paramref name="key"/>.</summary>
    private static int IndexOf(FlowJobs flow, JobKey key, bool inclusive)
    {
        int low = 0, high = flow.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            var c = flow[mid].Key.CompareTo(key);
            if (c < 0 || (c == 0 && !inclusive))
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }
}
