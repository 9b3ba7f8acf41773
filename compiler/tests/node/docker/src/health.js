// Copied to /srv/lib/health.js: Docker's health check, run in the container by `node`.
require('net').connect(3000, 'localhost').on('connect', () => process.exit(0)).on('error', () => process.exit(1));
