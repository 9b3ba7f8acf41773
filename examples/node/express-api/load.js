// express-api's workload: `node load.js PORT COUNT` sends COUNT requests over its routes, one
// connection each, checks every answer, and prints `ok COUNT`; any wrong answer exits 1.
'use strict';
const http = require('http');

const [port, count] = [Number(process.argv[2]), Number(process.argv[3] || 1000)];

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text }));
      });
    req.on('error', reject);
    req.end(data);
  });
}

function expect(what, got, status, check) {
  if (got.status !== status || !check(got.text)) {
    throw new Error(`${what}: ${got.status} ${got.text.slice(0, 200)}`);
  }
}

async function main() {
  let created = 1;
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0: expect('healthz', await request('GET', '/healthz'), 200, (t) => t === 'ok'); break;
      case 1: expect('list', await request('GET', '/items'), 200, (t) => Array.isArray(JSON.parse(t))); break;
      case 2: {
        const got = await request('POST', '/items', { name: `item ${i}` });
        expect('create', got, 201, (t) => JSON.parse(t).name === `item ${i}`);
        created = JSON.parse(got.text).id;
        break;
      }
      case 3: expect('get', await request('GET', `/items/${created}`), 200, (t) => JSON.parse(t).id === created); break;
      default: expect('static', await request('GET', '/static/index.html'), 200, (t) => t.includes('hello from express-api'));
    }
  }
  expect('missing', await request('GET', '/items/0'), 404, (t) => t.includes('no such item'));
  process.stdout.write(`ok ${count}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
