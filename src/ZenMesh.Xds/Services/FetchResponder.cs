using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Services;

/// <summary>The unary Fetch* calls: the current resources of one type, no stream state.</summary>
internal static class FetchResponder
{
    public static Task<DiscoveryResponse> FetchAsync(XdsStreamDependencies deps, string typeUrl, DiscoveryRequest request, ServerCallContext context)
    {
        if (request.TypeUrl.Length > 0 && request.TypeUrl != typeUrl)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"This is the {TypeUrls.ShortName(typeUrl)} service; it serves only '{typeUrl}', but the request has type_url '{request.TypeUrl}'."));
        }
        if (request.Node is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "A fetch request must carry 'node' (at least node.id)."));
        }
        deps.Authorization.Authorize(context, request.Node.Id);
        var type = deps.Cache.Current(deps.NodeHash.KeyOf(request.Node)).Get(typeUrl);
        var state = new SotwTypeState(typeUrl);
        state.Subscribe(request.ResourceNames);
        var (resources, version) = state.Resolve(type);
        var response = new DiscoveryResponse { VersionInfo = version, TypeUrl = typeUrl, ControlPlane = deps.Identity };
        response.Resources.AddRange(resources.Select(r => r.Sotw));
        return Task.FromResult(response);
    }
}
