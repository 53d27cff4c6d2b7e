using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace ZenMesh.Xds.Protocol;

internal abstract partial class XdsStream<TRequest, TResponse>
{
    protected static partial class Log
    {
        [LoggerMessage(EventId = XdsLogEventIds.StreamOpened, Level = LogLevel.Information, Message = "xDS stream {StreamId} ({Kind}) opened by node '{NodeId}' (cluster '{Cluster}')")]
        public static partial void StreamOpened(ILogger logger, long streamId, string kind, string nodeId, string cluster);

        [LoggerMessage(EventId = XdsLogEventIds.StreamClosed, Level = LogLevel.Information, Message = "xDS stream {StreamId} of node '{NodeId}' ended: {Reason}")]
        public static partial void StreamClosed(ILogger logger, long streamId, string nodeId, string reason);

        [LoggerMessage(EventId = XdsLogEventIds.StreamFailed, Level = LogLevel.Warning, Message = "xDS stream {StreamId} of node '{NodeId}' ended with {Code}: {Detail}")]
        public static partial void StreamFailed(ILogger logger, long streamId, string nodeId, StatusCode code, string detail);

        [LoggerMessage(EventId = XdsLogEventIds.ResponseSent, Level = LogLevel.Debug, Message = "stream {StreamId}: sent {TypeUrl} version {Version} ({Count} resources, {Removed} removed), nonce {Nonce}")]
        public static partial void ResponseSent(ILogger logger, long streamId, string typeUrl, string version, int count, int removed, string nonce);

        [LoggerMessage(EventId = XdsLogEventIds.StaleNonce, Level = LogLevel.Debug, Message = "stream {StreamId}: ignored {TypeUrl} request with stale nonce '{Nonce}' (latest '{Latest}')")]
        public static partial void StaleNonce(ILogger logger, long streamId, string typeUrl, string nonce, string? latest);

        [LoggerMessage(EventId = XdsLogEventIds.AckOfUnsentVersion, Level = LogLevel.Information, Message = "stream {StreamId}: ignored an ACK of {TypeUrl} version '{Claimed}', which the response it answers did not carry ('{Sent}')")]
        public static partial void AckOfUnsentVersion(ILogger logger, long streamId, string typeUrl, string claimed, string? sent);

        [LoggerMessage(EventId = XdsLogEventIds.Nack, Level = LogLevel.Warning, Message = "node '{NodeId}' rejected {TypeUrl} version {Version}: {Message}")]
        public static partial void Nack(ILogger logger, string nodeId, string typeUrl, string version, string message);
    }
}
