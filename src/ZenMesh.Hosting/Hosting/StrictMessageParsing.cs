using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ZenMesh.Hosting;

/// <summary>
/// gRPC requests that are not the message a method expects end their call with INVALID_ARGUMENT,
/// saying what could not be parsed. Without this, the parser's exception escapes as UNKNOWN and is
/// logged as an unhandled failure of the service, once per hostile call (300 streams of random
/// bytes made 242 such errors). Each method is bound as the generated code binds it, with its
/// request marshaller wrapped; an RpcException is what Grpc.AspNetCore reports as the call's status
/// and logs at Information.
/// </summary>
public static partial class StrictMessageParsing
{
    /// <summary>How the refusal's detail begins, so that a stream ended by it is not reported again as a failure of the stream.</summary>
    public const string ParseFailure = "The request could not be parsed as ";

    /// <summary>
    /// Call after AddGrpc: replaces the provider that binds each service's generated methods. A
    /// refusal is logged here, once, at Information; Grpc.AspNetCore's own per-call lines (it logs
    /// each refusal twice) are kept to warnings.
    /// </summary>
    public static IServiceCollection AddStrictMessageParsing(this IServiceCollection services)
    {
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.TryAddEnumerable(Microsoft.Extensions.DependencyInjection.ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(StrictMethodProvider<>)));
        services.Configure<LoggerFilterOptions>(o => o.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Warning));
        return services;
    }

    /// <summary>The request marshaller of <paramref name="method"/>, refusing what does not parse with INVALID_ARGUMENT.</summary>
    public static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method, ILogger? logger = null)
        where TRequest : class
        where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var name = (typeof(TRequest).GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as MessageDescriptor)?.FullName ?? typeof(TRequest).Name;
        var strict = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
        {
            try
            {
                return parse(context);
            }
            catch (InvalidProtocolBufferException e)
            {
                if (logger is not null)
                {
                    Refused(logger, method.FullName, name, e.Message);
                }
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"{ParseFailure}{name} (the message {method.FullName} takes): {e.Message}"));
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, strict, method.ResponseMarshaller);
    }

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "refused a call to {Method}: its request does not parse as {Message} ({Reason})")]
    private static partial void Refused(ILogger logger, string method, string message, string reason);

    private sealed class StrictMethodProvider<TService>(ILoggerFactory loggers) : IServiceMethodProvider<TService>
        where TService : class
    {
        private readonly ILogger _logger = loggers.CreateLogger("ZenMesh.Hosting.StrictMessageParsing");

        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
        {
            if (typeof(TService).GetCustomAttributes<BindServiceMethodAttribute>(inherit: true).FirstOrDefault() is not { } bind)
            {
                return;
            }
            var bindService = bind.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .Single(m => m.Name == bind.BindMethodName && m.GetParameters() is [{ ParameterType: var binder }, _] && binder == typeof(ServiceBinderBase));
            bindService.Invoke(null, [new Binder(context, _logger), null]);
        }

        /// <summary>Receives each generated method (with no handler) and adds it with an invoker of the service's own method.</summary>
        private sealed class Binder(ServiceMethodProviderContext<TService> context, ILogger logger) : ServiceBinderBase
        {
            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
                context.AddUnaryMethod(Strict(method, logger), Metadata(method.Name, out var m), Invoker<UnaryServerMethod<TService, TRequest, TResponse>>(m));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddClientStreamingMethod(Strict(method, logger), Metadata(method.Name, out var m), Invoker<ClientStreamingServerMethod<TService, TRequest, TResponse>>(m));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddServerStreamingMethod(Strict(method, logger), Metadata(method.Name, out var m), Invoker<ServerStreamingServerMethod<TService, TRequest, TResponse>>(m));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddDuplexStreamingMethod(Strict(method, logger), Metadata(method.Name, out var m), Invoker<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(m));

            /// <summary>As Grpc.AspNetCore's own binder: the service type's attributes, then the method's.</summary>
            private static List<object> Metadata(string name, out MethodInfo method)
            {
                method = typeof(TService).GetMethods(BindingFlags.Public | BindingFlags.Instance).Single(m => m.Name == name && m.IsVirtual);
                return [.. typeof(TService).GetCustomAttributes(inherit: true), .. method.GetCustomAttributes(inherit: true)];
            }

            private static TDelegate Invoker<TDelegate>(MethodInfo method)
                where TDelegate : Delegate => (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), method);
        }
    }
}
