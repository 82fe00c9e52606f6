'use strict';
// Entry point: `node --require ./src/tracing.js src/server.js`. Serves until SIGTERM/SIGINT, then drains.
const http = require('node:http');
const config = require('./config');
const logger = require('./logger');
const { create: createMetrics } = require('./metrics');
const { Stores } = require('./stores');
const { createApp } = require('./app');

const log = logger.make(config.service, config.logLevel);
const metrics = createMetrics(config);
const stores = new Stores(config, log);

const sessions = new Map();
const state = {
  shuttingDown: false,
  inFlight: 0,
  addSession(id) { sessions.set(id, Date.now() + config.sessionTtlSeconds * 1000); },
  sessionCount() {
    const now = Date.now();
    for (const [id, until] of sessions) if (until <= now) sessions.delete(id);
    return sessions.size;
  },
};

const app = createApp({ config, log, metrics, stores, state });
const server = http.createServer(app);
server.keepAliveTimeout = 65000; // longer than the usual proxies' idle timeout
server.headersTimeout = 66000;

server.listen(config.port, config.host, () => {
  log.info('listening', {
    port: config.port, version: config.version, tracing: globalThis.__mssTracing.enabled,
    redis_mode: stores.cluster ? 'cluster' : (stores.redis ? 'standalone' : 'none'),
    postgresql: Boolean(stores.pg),
  });
});

async function shutdown(signal) {
  if (state.shuttingDown) return;
  state.shuttingDown = true;
  log.info('shutdown requested', { signal, delay_ms: config.shutdownDelayMs, in_flight: state.inFlight });
  const hardStop = setTimeout(() => {
    log.error('shutdown timeout: exiting with requests in flight', { in_flight: state.inFlight });
    process.exit(1);
  }, config.shutdownTimeoutMs);
  hardStop.unref();
  // Readiness is false from now on; keep accepting while the Pod is removed from the Service's endpoints.
  await new Promise((resolve) => { setTimeout(resolve, config.shutdownDelayMs); });
  await new Promise((resolve) => {
    server.close(resolve); // stop accepting; resolves once every connection has ended
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 200);
    server.once('close', () => clearInterval(idle));
  });
  await stores.close();
  await globalThis.__mssTracing.shutdown().catch((err) => log.warn('tracing shutdown', { error: err.message }));
  log.info('stopped', { signal });
  process.exit(0);
}

process.on('SIGTERM', () => { shutdown('SIGTERM'); });
process.on('SIGINT', () => { shutdown('SIGINT'); });
process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: String(err && err.message) }));
