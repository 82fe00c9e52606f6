'use strict';
// Runtime entry of the image: JSON logs, request metrics, then Next.js's standalone server. Settings: PORT (3000), BIND_HOST (0.0.0.0), API_URL, LOG_LEVEL, APP_VERSION.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const util = require('node:util');

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = LEVELS[(process.env.LOG_LEVEL || 'info').toLowerCase()] ?? LEVELS.info;
function log(level, msg, fields = {}) {
  if (LEVELS[level] < threshold || msg === '') return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, service: 'mss-frontend', msg, ...fields });
  (level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
}
// Next.js's own messages (startup banner, errors) become JSON lines too.
const strip = (s) => s.replace(/\u001b\[[0-9;]*m/g, '').trim(); // eslint-disable-line no-control-regex
console.log = (...a) => log('info', strip(util.format(...a)));
console.info = console.log;
console.warn = (...a) => log('warn', strip(util.format(...a)));
console.error = (...a) => log('error', strip(util.format(...a)));
console.debug = (...a) => log('debug', strip(util.format(...a)));

const { metrics, routeOf } = require('../lib/metrics.js');
const m = metrics();

function observe(req, res) {
  const start = process.hrtime.bigint();
  res.on('close', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const route = routeOf(req.url);
    m.requests.inc({ method: req.method, route, status: String(res.statusCode) });
    m.duration.observe({ method: req.method, route }, seconds);
    if (route === '/' || route === '/dashboard') m.features.inc({ feature: route === '/' ? 'home' : 'dashboard' });
    if (!['/api/health', '/metrics', '/_next/static', '/favicon.ico'].includes(route) || res.statusCode >= 500) {
      log('info', 'request', { method: req.method, route, status: res.statusCode, duration_ms: Math.round(seconds * 1000) });
    }
  });
}

const createServer = http.createServer;
http.createServer = function patchedCreateServer(...args) {
  const server = createServer.apply(this, args);
  server.prependListener('request', observe);
  return server;
};

// .next/cache is a link to /tmp/next-cache (the root filesystem is read-only; /tmp is an emptyDir).
fs.mkdirSync('/tmp/next-cache', { recursive: true });

// Kubernetes sets HOSTNAME to the Pod name, which Next.js would bind to: listen on every address instead.
process.env.HOSTNAME = process.env.BIND_HOST || '0.0.0.0';
process.env.NEXT_TELEMETRY_DISABLED = '1';
// In the image this file is /app/server/entry.js and Next.js's standalone server is /app/server.js.
require(path.join(__dirname, '..', 'server.js'));
