// The module leaves its file: it is used through the names the code reads (`rename`).
module.exports = require('fs');
