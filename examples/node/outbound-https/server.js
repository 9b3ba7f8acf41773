// A service that calls another over HTTPS with axios, resolving its name through DNS each time
// (getaddrinfo, as Node's `http` does) and on request through the resolver directly (c-ares),
// trusting the CA in CA_FILE. Confined by the seccomp profile `warden infer dockerfile` reads
// from its code (outbound-https.warden); the suite runs it under that profile in a container,
// with load.js as its workload (which also serves the quotes).
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const dns = require('dns');
const axios = require('axios');

const port = Number(process.env.PORT || 8080);
const quotes = `https://${process.env.QUOTES_HOST}:${process.env.QUOTES_PORT}`;
const agent = new https.Agent({ ca: fs.readFileSync(process.env.CA_FILE), keepAlive: false });
const client = axios.create({ baseURL: quotes, httpsAgent: agent, timeout: 5000 });

const server = http.createServer(async (req, res) => {
  try {
    if (req.url === '/quote') {
      const got = await client.get('/quote', { responseType: 'text' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(got.data);
    } else if (req.url === '/resolve') {
      const addresses = await dns.promises.resolve4(process.env.QUOTES_HOST);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(addresses));
    } else if (req.url === '/healthz') {
      res.end('ok');
    } else {
      res.writeHead(404);
      res.end();
    }
  } catch (e) {
    res.writeHead(502);
    res.end(String(e.code || e.message));
  }
});

process.on('SIGTERM', () => {
  server.close(() => {
    process.stdout.write('graceful\n');
    process.exit(0);
  });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
