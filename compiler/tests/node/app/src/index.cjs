// CommonJS entry of the same package: destructuring two levels down, and an alias.
const { promises: { unlink } } = require('fs');
const path = require('node:path');
const f = require('fs');
const g = f;
g.mkdirSync(path.join('/tmp', 'x'), { recursive: true });
module.exports = { remove: (p) => unlink(p) };
