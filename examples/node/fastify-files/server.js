// A Fastify file server that compresses on the fly with zlib (gzip or brotli, as the client
// accepts), and a JSON route whose schema Fastify compiles to code at start-up. Confined by the
// seccomp profile `warden infer dockerfile` reads from its code (fastify-files.warden); the suite
// runs it under that profile in a container, with load.js as its workload.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { pipeline } = require('stream');
const fastify = require('fastify')({ logger: false });

const port = Number(process.env.PORT || 8080);
const root = path.join(__dirname, 'public');

fastify.get('/healthz', async () => 'ok');

fastify.get('/files/:name', (req, reply) => {
  const name = path.basename(req.params.name);
  const file = path.join(root, name);
  fs.stat(file, (err, stat) => {
    if (err || !stat.isFile()) return reply.code(404).send({ error: 'no such file' });
    const accepts = String(req.headers['accept-encoding'] || '');
    const [encoding, compress] = accepts.includes('br')
      ? ['br', zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })]
      : accepts.includes('gzip') ? ['gzip', zlib.createGzip()] : [null, null];
    reply.header('content-type', 'text/plain; charset=utf-8');
    if (!encoding) return reply.send(fs.createReadStream(file));
    reply.header('content-encoding', encoding);
    reply.send(pipeline(fs.createReadStream(file), compress, () => {}));
  });
});

fastify.post('/sum', {
  schema: {
    body: { type: 'object', required: ['values'],
      properties: { values: { type: 'array', items: { type: 'number' }, maxItems: 1000 } } },
    response: { 200: { type: 'object', properties: { sum: { type: 'number' } } } },
  },
}, async (req) => ({ sum: req.body.values.reduce((a, b) => a + b, 0) }));

process.on('SIGTERM', () => {
  fastify.close().then(() => {
    process.stdout.write('graceful\n');
    process.exit(0);
  });
});

fastify.listen({ port, host: '127.0.0.1' }).then(() => process.stdout.write(`listening ${port}\n`));
