namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The log store's open jobs, one list per flow, each in log order: a lease for some flows merges
/// their lists from its cursor on, so the jobs of a flow nobody takes (its egress is down) are never
/// walked by the leases of the others. Done jobs (acknowledged, or dropped by retention) stay in
/// place, skipped, until they are half of their list. An acknowledged job is skipped by leases at
/// once, and done once its acknowledgement is in the log. Not thread-safe: the store's lock guards it.
/// Each list is an array of its own that is only ever appended to: a compaction makes a new one. So
/// a checkpoint takes each array and its length, and reads that prefix later, off the writer.
/// </summary>
internal sealed class OpenJobs
{
    private readonly Dictionary<string, FlowJobs> _flows = new(StringComparer.Ordinal);

    private sealed class FlowJobs
    {
        public OpenJob[] Items { get; set; } = new OpenJob[16];

        public int Length { get; set; }

        public int Done { get; set; }
    }

    /// <summary>Jobs not done.</summary>
    public long Count { get; private set; }

    /// <summary>Adds a job after every job of its flow (jobs come in log order).</summary>
    public void Add(OpenJob job)
    {
        if (!_flows.TryGetValue(job.Flow, out var flow))
        {
            _flows[job.Flow] = flow = new FlowJobs();
        }
        if (flow.Length == flow.Items.Length)
        {
            // A new array, the old one left as it was: a checkpoint may be reading it.
            var grown = new OpenJob[flow.Items.Length * 2];
            Array.Copy(flow.Items, grown, flow.Length);
            flow.Items = grown;
        }
        flow.Items[flow.Length++] = job;
        Count++;
    }

    /// <summary>
    /// Each flow's jobs as they stand: an array and how much of it is theirs, neither to be changed
    /// again. A job in it that is not <see cref="OpenJob.Done"/> when read was open here, as far as the
    /// log goes (done means its acknowledgement is in the log, or its segment is gone).
    /// </summary>
    public List<(string Flow, OpenJob[] Items, int Length)> Open() =>
        [.. _flows.Where(f => f.Value.Length > f.Value.Done).Select(f => (f.Key, f.Value.Items, f.Value.Length))];

    /// <summary>Ends the job at <paramref name="key"/>, of whichever flow; false if there is none open.</summary>
    public bool End(JobKey key)
    {
        foreach (var (_, flow) in _flows)
        {
            var at = IndexOf(flow, key, inclusive: true);
            if (at < flow.Length && flow.Items[at].Key == key)
            {
                return End(flow.Items[at]);
            }
        }
        return false;
    }

    /// <summary>Ends a job; false if it was done already.</summary>
    public bool End(OpenJob job)
    {
        if (job.Done)
        {
            return false;
        }
        job.Done = true;
        Count--;
        var flow = _flows[job.Flow];
        flow.Done++;
        if (flow.Done * 2 >= flow.Length)
        {
            var kept = new OpenJob[Math.Max(16, (flow.Length - flow.Done) * 2)];
            var length = 0;
            for (var i = 0; i < flow.Length; i++)
            {
                if (!flow.Items[i].Done)
                {
                    kept[length++] = flow.Items[i];
                }
            }
            flow.Items = kept;
            flow.Length = length;
            flow.Done = 0;
        }
        return true;
    }

    /// <summary>Ends every open job that matches; returns how many.</summary>
    public long EndWhere(Func<OpenJob, bool> match)
    {
        var ended = _flows.Values.SelectMany(f => f.Items.Take(f.Length)).Where(j => !j.Done && match(j)).ToList();
        foreach (var job in ended)
        {
            End(job);
        }
        return ended.Count;
    }

    /// <summary>Up to <paramref name="limit"/> open jobs of <paramref name="flows"/> (null: all) after <paramref name="after"/>, in log order.</summary>
    public List<OpenJob> Page(IReadOnlySet<string>? flows, JobKey after, int limit)
    {
        var heads = new List<(FlowJobs Flow, int At)>();
        foreach (var (name, flow) in _flows)
        {
            if (flows is null || flows.Contains(name))
            {
                heads.Add((flow, IndexOf(flow, after, inclusive: false)));
            }
        }
        var page = new List<OpenJob>(Math.Min(limit, 1024));
        while (page.Count < limit)
        {
            var next = -1;
            for (var h = 0; h < heads.Count; h++)
            {
                var (flow, at) = heads[h];
                while (at < flow.Length && (flow.Items[at].Done || flow.Items[at].Acked))
                {
                    at++;
                }
                heads[h] = (flow, at);
                if (at < flow.Length && (next < 0 || flow.Items[at].Key < heads[next].Flow.Items[heads[next].At].Key))
                {
                    next = h;
                }
            }
            if (next < 0)
            {
                break;
            }
            var (from, index) = heads[next];
            page.Add(from.Items[index]);
            heads[next] = (from, index + 1);
        }
        return page;
    }

    /// <summary>The index of the first job at (inclusive) or after <paramref name="key"/>.</summary>
    private static int IndexOf(FlowJobs flow, JobKey key, bool inclusive)
    {
        int low = 0, high = flow.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            var c = flow.Items[mid].Key.CompareTo(key);
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
