using System.Data;
using System.Data.Common;

namespace ZenMesh.Data;

/// <summary>Typed parameters: an untyped null would leave PostgreSQL unable to infer "@x IS NULL".</summary>
public static class DbCommandExtensions
{
    public static DbCommand Command(this DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public static DbCommand With(this DbCommand command, string name, string? value) => Add(command, name, DbType.String, value);

    public static DbCommand With(this DbCommand command, string name, long? value) => Add(command, name, DbType.Int64, value);

    public static DbCommand WithReal(this DbCommand command, string name, double value) => Add(command, name, DbType.Double, value);

    public static DbCommand With(this DbCommand command, string name, byte[]? value) => Add(command, name, DbType.Binary, value);

    public static DbCommand With(this DbCommand command, string name, bool value) => Add(command, name, DbType.Boolean, value);

    /// <summary>A point in time as timestamptz (PostgreSQL) or its round-trip text (SQLite).</summary>
    public static DbCommand WithTime(this DbCommand command, string name, DateTimeOffset value) => Add(command, name, DbType.DateTimeOffset, value.ToUniversalTime());

    /// <summary>A list of text, as one array parameter (PostgreSQL's text[]).</summary>
    public static DbCommand WithTexts(this DbCommand command, string name, IReadOnlyList<string> values)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = values as string[] ?? [.. values];
        command.Parameters.Add(parameter);
        return command;
    }

    public static T Scalar<T>(this DbCommand command)
    {
        using (command)
        {
            return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The first column of every row, as text.</summary>
    public static List<string> Strings(this DbCommand command)
    {
        using (command)
        using (var reader = command.ExecuteReader())
        {
            var values = new List<string>();
            while (reader.Read())
            {
                values.Add(reader.GetString(0));
            }
            return values;
        }
    }

    private static DbCommand Add(DbCommand command, string name, DbType type, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }
}
