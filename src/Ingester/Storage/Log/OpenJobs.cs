namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The log store's open jobs, one list per flow, each in log order: a lease for some flows merges
/// their lists from its cursor on, so the jobs of a flow nobody takes (its egress is down) are never
/// walked by the leases of the others. Done jobs (acknowledged, or dropped by retention) stay in
/// place, skipped, until they are half of their list. An acknowledged job is skipped by leases at
/// once, and done once its acknowledgement is in the log. Not thread-safe: the store's lock guards it.
/// </summary>
internal sealed class OpenJobs
{
    private readonly Dictionary<string, FlowJobs> _flows = new(StringComparer.Ordinal);

    private sealed class FlowJobs
    {
        public List<OpenJob> Jobs { get; } = [];

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
        flow.Jobs.Add(job);
        Count++;
    }

    /// <summary>Ends the job at <paramref name="key"/>, of whichever flow; false if there is none open.</summary>
    public bool End(JobKey key)
    {
        foreach (var (_, flow) in _flows)
        {
            var at = IndexOf(flow.Jobs, key, inclusive: true);
            if (at < flow.Jobs.Count && flow.Jobs[at].Key == key)
            {
                return End(flow.Jobs[at]);
            }
        }
        return false;
    }

    /// <summary>Each flow's jobs not done, in log order: what a checkpoint keeps (acknowledged ones included until their record is written).</summary>
    public List<(string Flow, OpenJob[] Jobs)> Open() =>
        [.. _flows.Where(f => f.Value.Jobs.Count > f.Value.Done).Select(f => (f.Key, f.Value.Jobs.Where(j => !j.Done).ToArray()))];

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
        if (flow.Done * 2 >= flow.Jobs.Count)
        {
            flow.Jobs.RemoveAll(j => j.Done);
            flow.Done = 0;
        }
        return true;
    }

    /// <summary>Ends every open job that matches; returns how many.</summary>
    public long EndWhere(Func<OpenJob, bool> match)
    {
        var ended = _flows.Values.SelectMany(f => f.Jobs).Where(j => !j.Done && match(j)).ToList();
        foreach (var job in ended)
        {
            End(job);
        }
        return ended.Count;
    }

    /// <summary>Up to <paramref name="limit"/> open jobs of <paramref name="flows"/> (null: all) after <paramref name="after"/>, in log order.</summary>
    public List<OpenJob> Page(IReadOnlySet<string>? flows, JobKey after, int limit)
    {
        var heads = new List<(List<OpenJob> Jobs, int At)>();
        foreach (var (name, flow) in _flows)
        {
            if (flows is null || flows.Contains(name))
            {
                heads.Add((flow.Jobs, IndexOf(flow.Jobs, after, inclusive: false)));
            }
        }
        var page = new List<OpenJob>(Math.Min(limit, 1024));
        while (page.Count < limit)
        {
            var next = -1;
            for (var h = 0; h < heads.Count; h++)
            {
                var (jobs, at) = heads[h];
                while (at < jobs.Count && (jobs[at].Done || jobs[at].Acked))
                {
                    at++;
                }
                heads[h] = (jobs, at);
                if (at < jobs.Count && (next < 0 || jobs[at].Key < heads[next].Jobs[heads[next].At].Key))
                {
                    next = h;
                }
            }
            if (next < 0)
            {
                break;
            }
            var (from, index) = heads[next];
            page.Add(from[index]);
            heads[next] = (from, index + 1);
        }
        return page;
    }

    /// <summary>The index of the first job at (inclusive) or after <paramref name="key"/>.</summary>
    private static int IndexOf(List<OpenJob> jobs, JobKey key, bool inclusive)
    {
        int low = 0, high = jobs.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            var c = jobs[mid].Key.CompareTo(key);
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
