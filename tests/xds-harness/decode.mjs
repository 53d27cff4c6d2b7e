// Fetches an edge's resources from a ZenMesh XdsServer over ADS (state of the world) and decodes
// every one with the upstream Envoy descriptors that ship in @grpc/grpc-js-xds, including every
// nested Any (typed_config, typed_per_filter_config, transport sockets). Prints one JSON summary;
// exits non-zero if anything fails to decode.
//   node decode.mjs --xds 127.0.0.1:18000 --node default/local
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => a.startsWith('--') ? [a.slice(2), all[i + 1]] : null).filter(Boolean));
const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d));

// As @grpc/proto-loader does: the well-known types come with protobufjs, descriptor.proto included.
for (const name of ['descriptor', 'api', 'source_context', 'type']) {
  protobuf.common(name, require(`protobufjs/google/protobuf/${name}.json`).nested.google.nested.protobuf.nested);
}
const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  if (target.startsWith('google/protobuf/')) return target;
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return protobuf.util.path.resolve(origin, target);
};
root.loadSync([
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
], { keepCase: true });
root.resolveAll();

const Request = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const Response = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const method = {
  path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
  requestStream: true, responseStream: true,
  requestSerialize: (o) => Buffer.from(Request.encode(Request.fromObject(o)).finish()),
  requestDeserialize: (b) => Request.decode(b),
  responseSerialize: (o) => Buffer.from(Response.encode(o).finish()),
  responseDeserialize: (b) => Response.decode(b),
};
const Client = grpc.makeGenericClientConstructor({ Stream: method }, 'Ads');
const client = new Client(args.xds, grpc.credentials.createInsecure());

let decodedAnys = 0;
// Decodes an Any with the upstream descriptors, then every Any nested inside it.
function decodeAny(any) {
  const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
  const type = root.lookupType(typeName); // throws for a type the upstream API does not have
  const message = type.toObject(type.decode(any.value), { longs: Number, enums: String, defaults: false, json: false });
  decodedAnys++;
  return expand(message);
}
function expand(value) {
  if (Array.isArray(value)) return value.map(expand);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array) && !Buffer.isBuffer(value)) {
    if (typeof value.type_url === 'string' && value.value) return decodeAny(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
  }
  return value;
}

const types = {
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RDS: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
};
const call = client.Stream();
const result = {};
const pending = new Set(Object.values(types));
const timer = setTimeout(() => { console.error(`timed out waiting for ${[...pending].join(', ')}`); process.exit(1); }, 15000);
call.on('data', (response) => {
  try {
    result[response.type_url] = response.resources.map(decodeAny);
  } catch (e) {
    console.error(`cannot decode a ${response.type_url} resource with the upstream descriptors: ${e.message}`);
    process.exit(1);
  }
  pending.delete(response.type_url);
  if (pending.size === 0) {
    clearTimeout(timer);
    call.end();
    client.close();
    const hcmOf = (l) => l.filter_chains?.[0]?.filters?.[0]?.typed_config ?? {};
    console.log(JSON.stringify({
      decodedAnys,
      listeners: result[types.LDS].map((l) => ({ name: l.name, port: l.address?.socket_address?.port_value, filters: (hcmOf(l).http_filters ?? []).map((f) => f.name), rds: hcmOf(l).rds?.route_config_name })),
      routes: result[types.RDS].map((r) => ({ name: r.name, routes: r.virtual_hosts.flatMap((v) => v.routes.map((x) => x.name)) })),
      clusters: result[types.CDS].map((c) => ({ name: c.name, type: c.type ?? null, addressHeader: c.original_dst_lb_config?.http_header_name ?? null, portOverride: c.original_dst_lb_config?.upstream_port_override?.value ?? null, maxRequests: c.circuit_breakers?.thresholds?.[0]?.max_requests?.value ?? null })),
    }));
  }
});
call.on('error', (e) => { console.error(`ADS stream failed: ${e.message}`); process.exit(1); });
for (const typeUrl of Object.values(types)) {
  call.write({ node: { id: args.node ?? 'default/local', cluster: 'decode-check' }, type_url: typeUrl });
}
