// ES module entry: a namespace import, a named import, a module of the package's `imports`, a
// dependency.
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import { store } from '#store';
import { lookupAll } from 'dep';

const server = createServer((req, res) => {
  fs.readFile('/etc/hostname', (err, body) => res.end(err ? 'none' : body));
});
server.listen(8080);
store('x');
lookupAll('example.test');
