// A module named at run time, and code made at run time.
const name = process.env.PLUGIN || 'os';
const plugin = require(name);
const add = new Function('a', 'b', 'return a + b');
console.log(plugin, add(1, 2));
const { createRequire } = require('module');
const load = createRequire(__filename);
load('child_process').execSync('true');
const format = process.env.FORMAT || 'udp';
require(`./reporters/${format}.js`).report();
const store = require('./store');
store.rename('/tmp/a', '/tmp/b', () => {});
