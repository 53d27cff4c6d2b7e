using Grpc.Core;
using ZenMesh.Hosting;

namespace ZenMesh.Ingester.Handoff;

/// <summary>
/// Who may take jobs (each carries a webhook's body and headers): a subscriber that presents the
/// ingester's stream secret as "authorization: Bearer &lt;secret&gt;". The egress is given the
/// secret's file (--ingester-secret-file) or its value; anyone else is refused before a job moves.
/// </summary>
/// With an enrolled edge (<paramref name="mutualTls"/>) the stream is mutual TLS with the edge's
/// certificate instead, and the handshake has admitted only this edge's egress.
internal sealed class SubscriberAuthentication(ServiceToken secret, bool mutualTls = false)
{
    public const string FileName = "stream-secret";

    /// <summary>Throws Unauthenticated, saying what to present and where it is, unless the call presents the secret.</summary>
    public void Check(ServerCallContext context)
    {
        if (mutualTls)
        {
            return;
        }
        var header = context.RequestHeaders.GetValue("authorization") ?? "";
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || !secret.Matches(header["Bearer ".Length..].Trim()))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated,
                $"Events/Subscribe needs the ingester's stream secret as 'authorization: Bearer <secret>'{(header.Length == 0 ? "" : ", and the one presented is not it")}. It is {secret.WhereFrom}; give the egress that file with --ingester-secret-file (or its value as Egress:IngesterSecret)."));
        }
    }
}
