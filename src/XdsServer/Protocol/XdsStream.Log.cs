using Grpc.Core;
using Microsoft.Extensions.Logging;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Protocol;

internal abstract partial class XdsStream<TRequest, TResponse>
{
    protected static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.StreamOpened, Level = LogLevel.Information, Message = "xDS stream {StreamId} ({Kind}) opened by node '{NodeId}' (cluster '{Cluster}')")]
        public static partial void StreamOpened(ILogger logger, long streamId, string kind, string nodeId, string cluster);

        [LoggerMessage(EventId = LogEventIds.StreamClosed, Level = LogLevel.Information, Message = "xDS stream {StreamId} of node '{NodeId}' ended: {Reason}")]
        public static partial void StreamClosed(ILogger logger, long streamId, string nodeId, string reason);

        [LoggerMessage(EventId = LogEventIds.StreamFailed, Level = LogLevel.Warning, Message = "xDS stream {StreamId} of node '{NodeId}' ended with {Code}: {Detail}")]
        public static partial void StreamFailed(ILogger logger, long streamId, string nodeId, StatusCode code, string detail);

        [LoggerMessage(EventId = LogEventIds.ResponseSent, Level = LogLevel.Debug, Message = "stream {StreamId}: sent {TypeUrl} version {Version} ({Count} resources, {Removed} removed), nonce {Nonce}")]
        public static partial void ResponseSent(ILogger logger, long streamId, string typeUrl, string version, int count, int removed, string nonce);

        [LoggerMessage(EventId = LogEventIds.StaleNonce, Level = LogLevel.Debug, Message = "stream {StreamId}: ignored {TypeUrl} request with stale nonce '{Nonce}' (latest '{Latest}')")]
        public static partial void StaleNonce(ILogger logger, long streamId, string typeUrl, string nonce, string? latest);

        [LoggerMessage(EventId = LogEventIds.Nack, Level = LogLevel.Warning, Message = "node '{NodeId}' rejected {TypeUrl} version {Version}: {Message}")]
        public static partial void Nack(ILogger logger, string nodeId, string typeUrl, string version, string message);
    }
}
