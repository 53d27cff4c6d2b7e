using Grpc.Core;

namespace ZenMesh.Xds.Protocol;

/// <summary>Counts open streams and refuses new ones past the limit.</summary>
internal sealed class StreamAdmission(XdsLimits limits)
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    public IDisposable Admit()
    {
        if (Interlocked.Increment(ref _open) > limits.MaxStreams)
        {
            Interlocked.Decrement(ref _open);
            throw new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, $"This xDS server is at its limit of {limits.MaxStreams} streams (Xds:Limits:MaxStreams). Retry with backoff, or connect to another replica."));
        }
        return new Ticket(this);
    }

    private sealed class Ticket(StreamAdmission owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._open);
            }
        }
    }
}
