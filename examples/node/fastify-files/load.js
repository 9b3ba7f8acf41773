// fastify-files' workload: `node load.js PORT COUNT` fetches files plain, gzip and brotli (each
// decompressed and compared with the file), posts sums and asks for a missing file; it prints
// `ok COUNT`, and exits 1 on any wrong answer.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');

const [port, count] = [Number(process.argv[2]), Number(process.argv[3] || 1000)];
const words = fs.readFileSync(path.join(__dirname, 'public', 'words.txt'));

function request(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers, agent: false }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function check(what, ok, got) {
  if (!ok) throw new Error(`${what}: ${got.status} ${got.body.toString('utf8', 0, 200)}`);
}

async function main() {
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0: {
        const got = await request('GET', '/files/words.txt', { 'accept-encoding': 'gzip' });
        check('gzip', got.status === 200 && got.headers['content-encoding'] === 'gzip'
          && zlib.gunzipSync(got.body).equals(words), got);
        break;
      }
      case 1: {
        const got = await request('GET', '/files/words.txt', { 'accept-encoding': 'br, gzip' });
        check('brotli', got.status === 200 && got.headers['content-encoding'] === 'br'
          && zlib.brotliDecompressSync(got.body).equals(words), got);
        break;
      }
      case 2: {
        const got = await request('GET', '/files/hello.txt', {});
        check('plain', got.status === 200 && got.body.toString() === 'hello from fastify-files\n', got);
        break;
      }
      case 3: {
        const body = JSON.stringify({ values: [i, 1, 2] });
        const got = await request('POST', '/sum', { 'content-type': 'application/json' }, body);
        check('sum', got.status === 200 && JSON.parse(got.body).sum === i + 3, got);
        break;
      }
      default: {
        const got = i % 10 === 4 ? await request('GET', '/files/missing.txt', {}) : await request('GET', '/healthz', {});
        check('other', i % 10 === 4 ? got.status === 404 : got.body.toString() === 'ok', got);
      }
    }
  }
  process.stdout.write(`ok ${count}\n`);
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
