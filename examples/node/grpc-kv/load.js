// grpc-kv's workload: `node load.js PORT COUNT` makes COUNT calls (Put, Get, List, and a Get of
// a missing key), each on a client of its own every tenth call, checks every answer and prints
// `ok COUNT`; any wrong answer exits 1.
'use strict';
const grpc = require('@grpc/grpc-js');
const { KV } = require('./kv');

const [port, count] = [Number(process.argv[2]), Number(process.argv[3] || 1000)];
const Client = grpc.makeGenericClientConstructor(KV, 'KV');

function unary(client, method, request) {
  return new Promise((resolve) => client[method](request, (err, reply) => resolve({ err, reply })));
}

function list(client, prefix) {
  return new Promise((resolve, reject) => {
    const got = [];
    const stream = client.List({ prefix });
    stream.on('data', (d) => got.push(d));
    stream.on('end', () => resolve(got));
    stream.on('error', reject);
  });
}

function check(what, ok, got) {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(got)}`);
}

async function main() {
  let client = null;
  for (let i = 0; i < count; i++) {
    // A new connection now and then, as clients come and go.
    if (i % 10 === 0) {
      if (client) client.close();
      client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    }
    const key = `k${i - (i % 4)}`;
    switch (i % 4) {
      case 0: {
        const got = await unary(client, 'Put', { key, value: `v${i}` });
        check('put', !got.err && got.reply.ok === true, got);
        break;
      }
      case 1: {
        const got = await unary(client, 'Get', { key });
        check('get', !got.err && got.reply.value === `v${i - 1}`, got);
        break;
      }
      case 2: {
        const got = await list(client, key);
        check('list', got.length === 1 && got[0].key === key, got);
        break;
      }
      default: {
        const got = await unary(client, 'Get', { key: 'missing' });
        check('missing', got.err && got.err.code === grpc.status.NOT_FOUND, got);
      }
    }
  }
  client.close();
  process.stdout.write(`ok ${count}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
