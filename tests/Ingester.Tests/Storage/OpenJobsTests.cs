using ZenMesh.Ingester.Storage.Log;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The log store's open jobs, held as structs in chunks, against a plain model of what each call
/// must do: random adds, acknowledgements, ends and pages, enough of them to cross chunk boundaries
/// and to compact every list several times. A checkpoint's snapshot, read after more changes, holds
/// every job open when it was taken and not ended since, and nothing else.
/// </summary>
public sealed class OpenJobsTests
{
    private static readonly string[] Flows = ["to-ci", "to-crm", "to-audit"];

    private sealed class Model
    {
        private readonly Dictionary<OpenJob, int> _at = [];

        public List<(OpenJob Job, OpenJobs.JobState State)> Jobs { get; } = [];

        public void Add(OpenJob job)
        {
            _at[job] = Jobs.Count;
            Jobs.Add((job, OpenJobs.JobState.Open));
        }

        public void Set(OpenJob job, OpenJobs.JobState state) => Jobs[_at[job]] = (job, state);

        public List<OpenJob> NotDone(string flow) =>
            [.. Jobs.Where(j => j.Job.Flow == flow && j.State != OpenJobs.JobState.Done).Select(j => j.Job)];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_call_does_what_a_plain_list_would(int seed)
    {
        var random = new Random(seed);
        var jobs = new OpenJobs();
        var model = new Model();
        var offset = 0;
        long segment = 1;
        for (var step = 0; step < 15_000; step++)
        {
            var roll = random.Next(100);
            if (roll < 55 || model.Jobs.Count == 0)
            {
                // An event with one job per flow it matched, in log order.
                if (random.Next(500) == 0)
                {
                    (segment, offset) = (segment + 1, 0);
                }
                var flows = Flows.Where(_ => random.Next(3) > 0).DefaultIfEmpty(Flows[0]).ToList();
                for (var f = 0; f < flows.Count; f++)
                {
                    var job = new OpenJob(new JobKey(segment, offset, f), 100 + random.Next(900), flows[f]);
                    jobs.Add(job.Flow, job.Key, job.Length);
                    model.Add(job);
                }
                offset += 1000;
                continue;
            }
            var (picked, state) = model.Jobs[random.Next(model.Jobs.Count)];
            switch (roll)
            {
                case < 70:
                    Assert.Equal(state == OpenJobs.JobState.Open, jobs.TryAck(picked));
                    if (state == OpenJobs.JobState.Open)
                    {
                        model.Set(picked, OpenJobs.JobState.Acked);
                    }
                    break;
                case < 85:
                    Assert.Equal(state != OpenJobs.JobState.Done, random.Next(2) == 0 ? jobs.End(picked) : jobs.End(picked.Key));
                    model.Set(picked, OpenJobs.JobState.Done);
                    break;
                case < 86:
                    // Retention: every job of one segment, whatever its state.
                    var gone = picked.Key.Segment;
                    var expected = model.Jobs.Count(j => j.Job.Key.Segment == gone && j.State != OpenJobs.JobState.Done);
                    Assert.Equal(expected, jobs.EndWhere(key => key.Segment == gone));
                    foreach (var (job, _) in model.Jobs.Where(j => j.Job.Key.Segment == gone).ToList())
                    {
                        model.Set(job, OpenJobs.JobState.Done);
                    }
                    break;
                default:
                    var filter = random.Next(4) == 0 ? null : Flows.Where(_ => random.Next(2) == 0).ToHashSet();
                    var limit = 1 + random.Next(200);
                    var page = jobs.Page(filter, picked.Key, limit);
                    var want = model.Jobs
                        .Where(j => j.State == OpenJobs.JobState.Open && (filter is null || filter.Contains(j.Job.Flow)) && j.Job.Key > picked.Key)
                        .Select(j => j.Job).OrderBy(j => j.Key).Take(limit);
                    Assert.Equal(want, page);
                    Assert.All(page, j => Assert.True(jobs.IsOpen(j)));
                    break;
            }
            Assert.Equal(model.Jobs.Count(j => j.State != OpenJobs.JobState.Done), jobs.Count);
        }
        foreach (var flow in Flows)
        {
            var snapshot = Assert.Single(jobs.Open(), s => s.Flow == flow);
            Assert.Equal(model.NotDone(flow).Select(j => new CheckpointJob(j.Key, j.Length)), CopyOpen(snapshot));
        }
        // The lists crossed chunk boundaries (2,048 jobs) if this holds.
        Assert.True(model.Jobs.Count(j => j.Job.Flow == Flows[0]) > 2 * 2048);
    }

    [Fact]
    public void A_snapshot_read_later_holds_what_was_open_when_taken_and_not_ended_since()
    {
        var jobs = new OpenJobs();
        var added = new List<OpenJob>();
        for (var i = 0; i < 5_000; i++)
        {
            var job = new OpenJob(new JobKey(1, i * 100, 0), 100, "to-ci");
            jobs.Add(job.Flow, job.Key, job.Length);
            added.Add(job);
        }
        // Ended before the snapshot: never in it.
        foreach (var job in added.Where((_, i) => i % 5 == 0))
        {
            jobs.End(job);
        }
        // Acknowledged, the record not yet written: still open as far as the log goes.
        jobs.TryAck(added[1]);
        var snapshot = Assert.Single(jobs.Open());
        var openThen = added.Where((_, i) => i % 5 != 0).ToList();

        // After it: more ends (compacting the list into new chunks), and more jobs.
        var endedAfter = added.Where((_, i) => i % 5 != 0 && i % 2 == 0).ToHashSet();
        foreach (var job in endedAfter)
        {
            jobs.End(job);
        }
        for (var i = 5_000; i < 9_000; i++)
        {
            jobs.Add("to-ci", new JobKey(1, i * 100, 0), 100);
        }

        var read = CopyOpen(snapshot).Select(j => j.Key).ToHashSet();
        Assert.Subset(openThen.Select(j => j.Key).ToHashSet(), read);
        Assert.Superset(openThen.Where(j => !endedAfter.Contains(j)).Select(j => j.Key).ToHashSet(), read);
        Assert.Contains(added[1].Key, read);
    }

    [Fact]
    public void A_job_is_found_only_under_its_own_flow()
    {
        var jobs = new OpenJobs();
        var key = new JobKey(1, 0, 0);
        jobs.Add("to-ci", key, 100);

        Assert.False(jobs.TryAck(new OpenJob(key, 100, "to-crm")));
        Assert.False(jobs.End(new OpenJob(key, 100, "to-crm")));
        Assert.Equal(1, jobs.Count);
        Assert.True(jobs.End(key));
        Assert.False(jobs.End(key));
        Assert.Equal(0, jobs.Count);
        Assert.Empty(jobs.Open());
    }

    private static List<CheckpointJob> CopyOpen(OpenJobs.FlowSnapshot snapshot) => [.. snapshot.OpenJobs()];
}
