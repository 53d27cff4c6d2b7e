namespace ZenMesh.Data;

/// <summary>A database file failed its integrity check at start; the message names it and the recovery step.</summary>
public sealed class DamagedDatabaseException : Exception
{
    public DamagedDatabaseException()
    {
    }

    public DamagedDatabaseException(string message)
        : base(message)
    {
    }

    public DamagedDatabaseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
