using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Envoy.Service.Discovery.V3;

namespace ZenMesh.XdsBench;

/// <summary>
/// What a load generator needs of a SotW DiscoveryResponse: version, type, nonce, size, and the first
/// resource (endpoint c0, which sorts first). Reading only that keeps the simulated clients from
/// eating the CPU the server is being measured on; every byte is still received.
/// </summary>
internal sealed record LightSotwResponse(string VersionInfo, string TypeUrl, string Nonce, Any? FirstResource, int Size)
{
    public static readonly Method<DiscoveryRequest, LightSotwResponse> Method = new(
        MethodType.DuplexStreaming,
        "envoy.service.discovery.v3.AggregatedDiscoveryService",
        "StreamAggregatedResources",
        Marshallers.Create(r => r.ToByteArray(), DiscoveryRequest.Parser.ParseFrom),
        Marshallers.Create<LightSotwResponse>(_ => throw new NotSupportedException("clients only read responses"), Parse));

    private static LightSotwResponse Parse(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        string version = "", type = "", nonce = "";
        Any? first = null;
        for (var tag = input.ReadTag(); tag != 0; tag = input.ReadTag())
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case DiscoveryResponse.VersionInfoFieldNumber:
                    version = input.ReadString();
                    break;
                case DiscoveryResponse.TypeUrlFieldNumber:
                    type = input.ReadString();
                    break;
                case DiscoveryResponse.NonceFieldNumber:
                    nonce = input.ReadString();
                    break;
                case DiscoveryResponse.ResourcesFieldNumber when first is null:
                    first = new Any();
                    input.ReadMessage(first);
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return new LightSotwResponse(version, type, nonce, first, bytes.Length);
    }
}
