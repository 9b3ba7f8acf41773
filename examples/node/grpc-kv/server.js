// A gRPC key-value service on @grpc/grpc-js: unary Put and Get, a server-streaming List.
// Confined by the seccomp profile `warden infer dockerfile` reads from its code
// (grpc-kv.warden); the suite runs it under that profile in a container, with load.js as its
// workload.
'use strict';
const grpc = require('@grpc/grpc-js');
const { KV } = require('./kv');

const port = Number(process.env.PORT || 50051);
const store = new Map();

const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
server.addService(KV, {
  Put(call, done) {
    const { key, value } = call.request;
    if (typeof key !== 'string' || key.length === 0) {
      return done({ code: grpc.status.INVALID_ARGUMENT, details: 'key' });
    }
    store.set(key, value);
    // The oldest keys go, so that a long run does not grow without end.
    if (store.size > 1000) store.delete(store.keys().next().value);
    done(null, { ok: true });
  },
  Get(call, done) {
    if (!store.has(call.request.key)) {
      return done({ code: grpc.status.NOT_FOUND, details: 'no such key' });
    }
    done(null, { key: call.request.key, value: store.get(call.request.key) });
  },
  List(call) {
    const prefix = String(call.request.prefix || '');
    let sent = 0;
    for (const [key, value] of store) {
      if (key.startsWith(prefix) && sent++ < 10) call.write({ key, value });
    }
    call.end();
  },
});

server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});

process.on('SIGTERM', () => {
  server.tryShutdown(() => {
    process.stdout.write('graceful\n');
    process.exit(0);
  });
});
