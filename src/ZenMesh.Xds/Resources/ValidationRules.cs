using ZenMesh.Hosting;
using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Validate;

namespace ZenMesh.Xds.Resources;

/// <summary>
/// Checks a message against the protoc-gen-validate rules carried in its descriptors (what Envoy
/// checks when it receives config), recursing into nested messages and Any values. Covers the rules
/// Envoy's API relies on: message required/skip, string lengths, prefix and in, numeric bounds,
/// enum defined_only, duration bounds, repeated min/max items and item rules, map min pairs, Any
/// required/in, required oneofs. Each violation names the field path and the rule.
/// </summary>
public static class ValidationRules
{
    public static IReadOnlyList<string> Check(IMessage message)
    {
        var problems = new List<string>();
        CheckMessage(message, "", problems, depth: 0);
        return problems;
    }

    private static void CheckMessage(IMessage message, string path, List<string> problems, int depth)
    {
        var descriptor = message.Descriptor;
        if (depth > 64 || descriptor.GetOptions()?.GetExtension(ValidateExtensions.Disabled) == true)
        {
            return;
        }
        foreach (var oneof in descriptor.Oneofs.Where(o => !o.IsSynthetic))
        {
            if (oneof.GetOptions()?.GetExtension(ValidateExtensions.Required) == true && oneof.Accessor.GetCaseFieldDescriptor(message) is null)
            {
                problems.Add($"{path}{oneof.Name}: exactly one of {string.Join(", ", oneof.Fields.Select(f => f.Name))} must be set (validate.required)");
            }
        }
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (field.ContainingOneof is { IsSynthetic: false } group && group.Accessor.GetCaseFieldDescriptor(message)?.FieldNumber != field.FieldNumber)
            {
                continue;
            }
            var value = field.Accessor.GetValue(message);
            var here = path + field.Name;
            var rules = field.GetOptions()?.GetExtension(ValidateExtensions.Rules);
            if (field.IsMap)
            {
                var map = (IDictionary)value;
                if (rules?.Map is { } mapRules && mapRules.HasMinPairs && (ulong)map.Count < mapRules.MinPairs && !(mapRules.IgnoreEmpty && map.Count == 0))
                {
                    problems.Add($"{here}: needs at least {mapRules.MinPairs} entries (validate map.min_pairs)");
                }
                foreach (DictionaryEntry entry in map)
                {
                    if (entry.Value is IMessage nested)
                    {
                        CheckValue(nested, null, $"{here}[{entry.Key}]", problems, depth);
                    }
                }
                continue;
            }
            if (field.IsRepeated)
            {
                var list = (IList)value;
                var repeated = rules?.Repeated;
                if (repeated is not null && !(repeated.IgnoreEmpty && list.Count == 0))
                {
                    if (repeated.HasMinItems && (ulong)list.Count < repeated.MinItems)
                    {
                        problems.Add($"{here}: needs at least {repeated.MinItems} item(s) (validate repeated.min_items)");
                    }
                    if (repeated.HasMaxItems && (ulong)list.Count > repeated.MaxItems)
                    {
                        problems.Add($"{here}: allows at most {repeated.MaxItems} item(s) (validate repeated.max_items)");
                    }
                }
                for (var i = 0; i < list.Count; i++)
                {
                    CheckValue(list[i], repeated?.Items, $"{here}[{i}]", problems, depth);
                }
                continue;
            }
            CheckValue(value, rules, here, problems, depth, field.HasPresence && !field.Accessor.HasValue(message));
        }
    }

    private static void CheckValue(object? value, FieldRules? rules, string here, List<string> problems, int depth, bool unset = false)
    {
        if (rules?.Message is { Required: true } && value is null)
        {
            problems.Add($"{here}: is required (validate message.required)");
            return;
        }
        switch (rules?.TypeCase)
        {
            case FieldRules.TypeOneofCase.String when value is string s && !(rules.String.IgnoreEmpty && s.Length == 0):
                var text = rules.String;
                if (text.HasMinLen && (ulong)s.Length < text.MinLen)
                {
                    problems.Add($"{here}: must be at least {text.MinLen} character(s), is '{s}' (validate string.min_len)");
                }
                if (text.HasMaxLen && (ulong)s.Length > text.MaxLen)
                {
                    problems.Add($"{here}: must be at most {text.MaxLen} characters (validate string.max_len)");
                }
                if (text.HasMinBytes && (ulong)System.Text.Encoding.UTF8.GetByteCount(s) < text.MinBytes)
                {
                    problems.Add($"{here}: must be at least {text.MinBytes} byte(s), is '{s}' (validate string.min_bytes)");
                }
                if (text.HasPrefix && !s.StartsWith(text.Prefix, StringComparison.Ordinal))
                {
                    problems.Add($"{here}: must start with '{text.Prefix}', is '{s}' (validate string.prefix)");
                }
                if (text.In.Count > 0 && !text.In.Contains(s))
                {
                    problems.Add($"{here}: must be one of {string.Join(", ", text.In)}, is '{s}' (validate string.in)");
                }
                break;
            case FieldRules.TypeOneofCase.Uint32 when value is uint u:
                Bounds(here, u, rules.Uint32.HasGt ? rules.Uint32.Gt : null, rules.Uint32.HasGte ? rules.Uint32.Gte : null, rules.Uint32.HasLt ? rules.Uint32.Lt : null, rules.Uint32.HasLte ? rules.Uint32.Lte : null, "uint32", problems);
                break;
            case FieldRules.TypeOneofCase.Uint64 when value is ulong u:
                Bounds(here, u, rules.Uint64.HasGt ? rules.Uint64.Gt : null, rules.Uint64.HasGte ? rules.Uint64.Gte : null, rules.Uint64.HasLt ? rules.Uint64.Lt : null, rules.Uint64.HasLte ? rules.Uint64.Lte : null, "uint64", problems);
                break;
            case FieldRules.TypeOneofCase.Int32 when value is int n:
                Bounds(here, n, rules.Int32.HasGt ? rules.Int32.Gt : null, rules.Int32.HasGte ? rules.Int32.Gte : null, rules.Int32.HasLt ? rules.Int32.Lt : null, rules.Int32.HasLte ? rules.Int32.Lte : null, "int32", problems);
                break;
            case FieldRules.TypeOneofCase.Int64 when value is long n:
                Bounds(here, n, rules.Int64.HasGt ? rules.Int64.Gt : null, rules.Int64.HasGte ? rules.Int64.Gte : null, rules.Int64.HasLt ? rules.Int64.Lt : null, rules.Int64.HasLte ? rules.Int64.Lte : null, "int64", problems);
                break;
            case FieldRules.TypeOneofCase.Double when value is double d:
                Bounds(here, d, rules.Double.HasGt ? rules.Double.Gt : null, rules.Double.HasGte ? rules.Double.Gte : null, rules.Double.HasLt ? rules.Double.Lt : null, rules.Double.HasLte ? rules.Double.Lte : null, "double", problems);
                break;
            case FieldRules.TypeOneofCase.Enum when value is System.Enum e && rules.Enum.DefinedOnly && !System.Enum.IsDefined(e.GetType(), e):
                problems.Add($"{here}: {Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture)} is not a defined value (validate enum.defined_only)");
                break;
            case FieldRules.TypeOneofCase.Duration:
                if (rules.Duration.Required && value is null)
                {
                    problems.Add($"{here}: is required (validate duration.required)");
                }
                else if (value is Duration duration)
                {
                    var t = duration.ToTimeSpan();
                    Bounds(here, t, rules.Duration.Gt?.ToTimeSpan(), rules.Duration.Gte?.ToTimeSpan(), rules.Duration.Lt?.ToTimeSpan(), rules.Duration.Lte?.ToTimeSpan(), "duration", problems);
                }
                break;
            case FieldRules.TypeOneofCase.Any:
                if (rules.Any.Required && value is null)
                {
                    problems.Add($"{here}: is required (validate any.required)");
                }
                else if (value is Any any && rules.Any.In.Count > 0 && !rules.Any.In.Contains(any.TypeUrl))
                {
                    problems.Add($"{here}: type '{any.TypeUrl}' is not allowed here; use one of {string.Join(", ", rules.Any.In)} (validate any.in)");
                }
                break;
        }
        if (rules?.Message is { Skip: true } || unset)
        {
            return;
        }
        if (value is Any packed && packed.TypeUrl.Length > 0)
        {
            var inner = EnvoyTypeRegistry.Instance.Find(Any.GetTypeName(packed.TypeUrl));
            if (inner is null)
            {
                problems.Add($"{here}: type '{packed.TypeUrl}' is not part of the Envoy API this server knows");
                return;
            }
            CheckMessage(inner.Parser.ParseFrom(packed.Value), here + ".", problems, depth + 1);
        }
        else if (value is IMessage nested and not Duration and not Timestamp)
        {
            CheckMessage(nested, here + ".", problems, depth + 1);
        }
    }

    private static void Bounds<T>(string here, T value, T? gt, T? gte, T? lt, T? lte, string kind, List<string> problems)
        where T : struct, IComparable<T>
    {
        string Show(T v) => v is TimeSpan span ? DurationText.Format(span) : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!;
        if (gt is { } a && value.CompareTo(a) <= 0)
        {
            problems.Add($"{here}: must be greater than {Show(a)}, is {Show(value)} (validate {kind}.gt)");
        }
        if (gte is { } b && value.CompareTo(b) < 0)
        {
            problems.Add($"{here}: must be at least {Show(b)}, is {Show(value)} (validate {kind}.gte)");
        }
        if (lt is { } c && value.CompareTo(c) >= 0)
        {
            problems.Add($"{here}: must be less than {Show(c)}, is {Show(value)} (validate {kind}.lt)");
        }
        if (lte is { } d && value.CompareTo(d) > 0)
        {
            problems.Add($"{here}: must be at most {Show(d)}, is {Show(value)} (validate {kind}.lte)");
        }
    }
}
