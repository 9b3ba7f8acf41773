// Copied to /srv/lib/main.js: an HTTP server that writes a file.
const http = require('http');
const { writeFileSync } = require('fs');
http.createServer((req, res) => { writeFileSync('/tmp/last', req.url); res.end('ok'); }).listen(3000);
