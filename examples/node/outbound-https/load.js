// outbound-https' workload: `node load.js PORT COUNT` serves quotes over HTTPS on QUOTES_PORT
// (KEY_FILE, CERT_FILE) for the service to call, then sends it COUNT requests (quotes fetched
// through it, names resolved through it, health), checks every answer and prints `ok COUNT`;
// any wrong answer exits 1.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');

const [port, count] = [Number(process.argv[2]), Number(process.argv[3] || 1000)];
let served = 0;

const quotes = https.createServer(
  { key: fs.readFileSync(process.env.KEY_FILE), cert: fs.readFileSync(process.env.CERT_FILE) },
  (req, res) => { served++; res.end(`quote ${served}`); });

function get(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    }).on('error', reject);
  });
}

function check(what, ok, got) {
  if (!ok) throw new Error(`${what}: ${got.status} ${got.text.slice(0, 200)}`);
}

async function main() {
  for (let i = 0; i < count; i++) {
    switch (i % 3) {
      case 0:
      case 1: {
        const got = await get('/quote');
        check('quote', got.status === 200 && /^quote \d+$/.test(got.text), got);
        break;
      }
      default: {
        const got = i % 6 === 2 ? await get('/resolve') : await get('/healthz');
        check('resolve', got.status === 200 && (i % 6 === 2 ? JSON.parse(got.text).length > 0 : got.text === 'ok'), got);
      }
    }
  }
  process.stdout.write(`ok ${count}\n`);
}

quotes.listen(Number(process.env.QUOTES_PORT), '127.0.0.1', () => {
  main().then(() => quotes.close(), (e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
});
