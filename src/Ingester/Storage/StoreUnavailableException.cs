namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The store cannot take this write now (the disk is full or failing, the database is unreachable,
/// the store is shutting down): nothing of it was kept, and trying again later may succeed. The
/// intake answers it with 503 and Retry-After; whatever the engine threw is the inner exception.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException()
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
