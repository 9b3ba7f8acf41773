// An Express JSON API with static files, confined by the seccomp profile `warden infer
// dockerfile` reads from its code (express-api.warden). The suite runs it under that profile
// in a container, with load.js as its workload.
'use strict';
const path = require('path');
const express = require('express');
const config = require('./config.json');

const port = Number(process.env.PORT || 8080);
const items = new Map([[1, { id: 1, name: 'first' }]]);
let next = 2;

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));
app.use('/static', express.static(path.join(__dirname, 'public'), { maxAge: '1h' }));

app.get('/healthz', (req, res) => res.type('text').send('ok'));
app.get('/items', (req, res) => res.json([...items.values()]));
app.get('/items/:id', (req, res) => {
  const item = items.get(Number(req.params.id));
  if (!item) return res.status(404).json({ error: 'no such item' });
  res.json(item);
});
app.post('/items', (req, res) => {
  if (typeof req.body?.name !== 'string') return res.status(400).json({ error: 'name' });
  const item = { id: next++, name: req.body.name };
  items.set(item.id, item);
  // Old items go, so that a long run does not grow without end.
  if (items.size > 100) items.delete(items.keys().next().value);
  res.status(201).json(item);
});

// Left in on purpose: the export runs a tool through the module config.json names
// (`child_process`). warden cannot read a name computed at run time (W1501): it reads every
// installed package as if loaded, but a built-in named this way is not counted, so under the
// inferred profile this route is killed (SIGSYS) when it starts the process.
app.get('/export', (req, res, next) => {
  const runner = require(config.exportRunner);
  runner.execFile('/bin/echo', ['exported'], (err, out) => (err ? next(err) : res.send(out)));
});

const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));

process.on('SIGTERM', () => {
  server.close(() => {
    process.stdout.write('graceful\n');
    process.exit(0);
  });
});
