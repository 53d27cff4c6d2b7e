namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>Every await in a test is bounded; a hang reports what it waited for.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static async Task<T> WithTimeout<T>(this Task<T> task, string waitingFor, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        var finished = await Task.WhenAny(task, Task.Delay(limit)).ConfigureAwait(false);
        if (finished != task)
        {
            throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {waitingFor}.");
        }
        return await task.ConfigureAwait(false);
    }

    public static async Task WithTimeout(this Task task, string waitingFor, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Default;
        var finished = await Task.WhenAny(task, Task.Delay(limit)).ConfigureAwait(false);
        if (finished != task)
        {
            throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {waitingFor}.");
        }
        await task.ConfigureAwait(false);
    }

    /// <summary>Polls a condition (for state another process or thread changes), failing with a description.</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Default);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition().ConfigureAwait(false))
            {
                return;
            }
            await Task.Delay(25).ConfigureAwait(false);
        }
        throw new TimeoutException($"Timed out waiting until {what}.");
    }
}
