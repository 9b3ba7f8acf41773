// A native addon: compiled code, any system call.
const native = require('./build/Release/fast.node');
module.exports = native.run;
