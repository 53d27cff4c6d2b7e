using System.Text.RegularExpressions;
using Envoy.Config.Core.V3;
using Envoy.Type.Matcher.V3;
using Grpc.Core;

namespace ZenMesh.Xds.Status;

/// <summary>Evaluates CSDS node matchers (node id only; metadata matchers are refused, not ignored).</summary>
internal static class NodeMatching
{
    public static bool Matches(NodeMatcher matcher, Node node)
    {
        if (matcher.NodeMetadatas.Count > 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unimplemented, "node_matchers[].node_metadatas is not supported by this server; match on node_id."));
        }
        return matcher.NodeId is null || Matches(matcher.NodeId, node.Id);
    }

    public static bool Matches(StringMatcher matcher, string value)
    {
        var comparison = matcher.IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return matcher.MatchPatternCase switch
        {
            StringMatcher.MatchPatternOneofCase.Exact => string.Equals(value, matcher.Exact, comparison),
            StringMatcher.MatchPatternOneofCase.Prefix => value.StartsWith(matcher.Prefix, comparison),
            StringMatcher.MatchPatternOneofCase.Suffix => value.EndsWith(matcher.Suffix, comparison),
            StringMatcher.MatchPatternOneofCase.Contains => value.Contains(matcher.Contains, comparison),
            StringMatcher.MatchPatternOneofCase.SafeRegex => Regex.IsMatch(value, $"^(?:{matcher.SafeRegex.Regex})$", RegexOptions.None, TimeSpan.FromMilliseconds(100)),
            _ => throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"node_id matcher '{matcher.MatchPatternCase}' is not supported; use exact, prefix, suffix, contains or safe_regex.")),
        };
    }
}
