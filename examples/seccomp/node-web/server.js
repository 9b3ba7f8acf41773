// A small Node.js web service: an HTTP server that reads a file, resolves a name, calls another
// service over TCP, and stops gracefully on SIGTERM. `warden` confines it with the seccomp
// profile of web.warden; the suite runs it under that profile in a container.
'use strict';
const http = require('http');
const fs = require('fs');
const net = require('net');
const dns = require('dns');
const path = require('path');

const port = Number(process.env.PORT || 8080);
const upstream = Number(process.env.UPSTREAM_PORT || 0);
const page = path.join(__dirname, 'index.html');

function callUpstream(done) {
  if (!upstream) return done(null, 'none');
  const s = net.connect(upstream, '127.0.0.1', () => s.end('ping\n'));
  let got = '';
  s.on('data', (d) => { got += d; });
  s.on('end', () => done(null, got.trim()));
  s.on('error', done);
}

const server = http.createServer((req, res) => {
  if (req.url === '/file') {
    fs.readFile(page, (err, body) => {
      res.writeHead(err ? 500 : 200, { 'content-type': 'text/html' });
      res.end(err ? String(err) : body);
    });
  } else if (req.url === '/dns') {
    dns.lookup(process.env.LOOKUP || 'localhost', (err, address) => {
      res.writeHead(err ? 502 : 200);
      res.end(err ? String(err.code) : address);
    });
  } else if (req.url === '/upstream') {
    callUpstream((err, reply) => {
      res.writeHead(err ? 502 : 200);
      res.end(err ? String(err.code) : reply);
    });
  } else if (req.url === '/spawn') {
    // A web service has no business starting processes: the profile denies it.
    try {
      const child = require('child_process').spawn('/bin/true', [], { stdio: 'ignore' });
      child.on('error', (e) => { res.writeHead(403); res.end(String(e.code)); });
      child.on('exit', () => { res.writeHead(200); res.end('spawned'); });
    } catch (e) {
      res.writeHead(403);
      res.end(String(e.code));
    }
  } else {
    res.writeHead(200);
    res.end('ok');
  }
});

process.on('SIGTERM', () => {
  server.close(() => {
    process.stdout.write('graceful\n');
    process.exit(0);
  });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
