// A module named at run time, and code made at run time.
const name = process.env.PLUGIN || 'os';
const plugin = require(name);
const add = new Function('a', 'b', 'return a + b');
console.log(plugin, add(1, 2));
const { createRequire } = require('module');
const load = createRequire(__filename);
load('child_process').execSync('true');
