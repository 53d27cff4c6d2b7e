// Drives gRPC's xDS client (written by others, following Envoy's protocol) against a ZenMesh
// XdsServer. Line protocol, one JSON object per line:
//   stdout first: {"event":"backends","ports":{"a":1234,...}}   (gRPC backends this process serves)
//   stdin:  {"cmd":"connect","xds":"127.0.0.1:18000","target":"xds:///echo","node":"harness"}
//           {"cmd":"call","count":200}                 -> {"ok":true,"counts":{"a":160,"b":40},"errors":0}
//           {"cmd":"until","backend":"c","timeoutMs":15000}  -> {"ok":true,"calls":n,"counts":{...}}
//           {"cmd":"quit"}
// Backends answer every call with their own name, so counts show where the client routed.
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import readline from 'node:readline';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => a.startsWith('--') ? [a.slice(2), all[i + 1]] : null).filter(Boolean));
const names = (args.backends ?? 'a,b,c').split(',');
const identity = (x) => x;
const method = { path: '/zenmesh.test.Echo/Call', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity };
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const servers = [];
const ports = {};
for (const name of names) {
  const server = new grpc.Server();
  server.addService({ Call: method }, { Call: (_call, callback) => callback(null, Buffer.from(name)) });
  ports[name] = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => e ? reject(e) : resolve(port)));
  servers.push(server);
}
emit({ event: 'backends', ports });

let client = null;
const Client = grpc.makeGenericClientConstructor({ Call: method }, 'Echo');

function callOnce(deadlineMs = 5000) {
  return new Promise((resolve) => {
    client.Call(Buffer.alloc(0), { deadline: Date.now() + deadlineMs }, (err, reply) => resolve(err ? { error: `${err.code} ${err.details}` } : { backend: reply.toString() }));
  });
}

async function callMany(count) {
  const counts = {};
  let errors = 0;
  let lastError = null;
  for (let i = 0; i < count; i++) {
    const r = await callOnce();
    if (r.error) { errors++; lastError = r.error; } else counts[r.backend] = (counts[r.backend] ?? 0) + 1;
  }
  return { counts, errors, lastError };
}

const commands = {
  connect({ xds: server, target = 'xds:///echo', node = 'harness' }) {
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: server, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: node, cluster: 'harness', locality: { region: 'local' } },
    });
    xds.register();
    client = new Client(target, grpc.credentials.createInsecure());
    return { ok: true };
  },
  async call({ count = 100 }) {
    return { ok: true, ...(await callMany(count)) };
  },
  async until({ backend, timeoutMs = 15000, batch = 20 }) {
    const deadline = Date.now() + timeoutMs;
    let calls = 0;
    let last = null;
    while (Date.now() < deadline) {
      const r = await callMany(batch);
      calls += batch;
      last = r;
      if ((r.counts[backend] ?? 0) > 0) return { ok: true, calls, counts: r.counts };
      await new Promise((res) => setTimeout(res, 50));
    }
    return { ok: false, calls, last, reason: `no call reached backend '${backend}' within ${timeoutMs} ms` };
  },
  quit() {
    client?.close();
    for (const s of servers) s.forceShutdown();
    setTimeout(() => process.exit(0), 50);
    return { ok: true };
  },
};

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
    const handler = commands[request.cmd];
    if (!handler) throw new Error(`unknown cmd '${request.cmd}'`);
    emit(await handler(request));
  } catch (e) {
    emit({ ok: false, reason: String(e?.stack ?? e) });
  }
}
