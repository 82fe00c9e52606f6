'use strict';
// The Express application: probes, metrics and the data endpoints the smoke tests and the frontend use.
const crypto = require('node:crypto');
const express = require('express');
const { trace } = require('@opentelemetry/api');

function createApp({ config, log, metrics, stores, state }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);

  // Metrics and access log for every request; route = the matched Express route (bounded cardinality).
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    state.inFlight += 1;
    if (state.shuttingDown) res.setHeader('Connection', 'close');
    res.on('close', () => {
      state.inFlight -= 1;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route ? `${req.baseUrl || ''}${req.route.path}` : 'unmatched';
      const status = String(res.statusCode);
      metrics.requests.inc({ method: req.method, route, status });
      metrics.duration.observe({ method: req.method, route }, seconds);
      if (!(route === '/health' || route === '/ready' || route === '/metrics') || res.statusCode >= 500) {
        const span = trace.getActiveSpan();
        log.info('request', {
          method: req.method, route, path: req.path, status: res.statusCode,
          duration_ms: Math.round(seconds * 1000), aborted: !res.writableFinished,
          ...(span ? { trace_id: span.spanContext().traceId } : {}),
        });
      }
    });
    next();
  });
  app.use(express.json({ limit: '16kb' }));

  // Liveness: the process is up and its event loop answers.
  app.get('/health', (req, res) => res.json({ status: 'ok', service: config.service, version: config.version }));

  // Readiness: PostgreSQL and Redis both answer (and not shutting down).
  app.get('/ready', async (req, res, next) => {
    try {
      const { ready, checks } = await stores.check();
      const ok = ready && !state.shuttingDown;
      res.status(ok ? 200 : 503).json({ ready: ok, shutting_down: state.shuttingDown, checks });
    } catch (err) {
      next(err);
    }
  });

  app.get('/metrics', async (req, res, next) => {
    try {
      metrics.sessions.set(state.sessionCount());
      res.set('Content-Type', metrics.register.contentType);
      res.send(await metrics.register.metrics());
    } catch (err) {
      next(err);
    }
  });

  app.get('/api/info', (req, res) => res.json({
    service: config.service, version: config.version, hostname: config.hostname, tracing: globalThis.__mssTracing.enabled,
  }));

  // Data: an intervention is written to PostgreSQL and cached in Redis; reading it back says where it came from.
  app.post('/api/interventions', async (req, res, next) => {
    try {
      const title = typeof req.body?.title === 'string' ? req.body.title.trim() : '';
      if (!title || title.length > 200) return res.status(400).json({ error: 'title: a string of 1..200 characters' });
      const row = await stores.createIntervention(title);
      metrics.interventions.inc();
      metrics.features.inc({ feature: 'interventions' });
      return res.status(201).json(row);
    } catch (err) {
      return next(err);
    }
  });

  app.get('/api/interventions/:id', async (req, res, next) => {
    try {
      if (!/^\d{1,18}$/.test(req.params.id)) return res.status(400).json({ error: 'id: a positive integer' });
      const row = await stores.getIntervention(req.params.id);
      if (!row) return res.status(404).json({ error: 'no such intervention' });
      metrics.features.inc({ feature: 'interventions' });
      return res.json(row);
    } catch (err) {
      return next(err);
    }
  });

  // The dashboard's data (the frontend calls this).
  app.get('/api/summary', async (req, res, next) => {
    try {
      const summary = await stores.summary();
      metrics.reports.inc();
      metrics.features.inc({ feature: 'reports' });
      res.json({ ...summary, service: config.service, version: config.version, hostname: config.hostname });
    } catch (err) {
      next(err);
    }
  });

  // A login against the API_LOGIN_TOKEN secret (unset: every attempt fails); a session lives in Redis.
  app.post('/api/login', async (req, res, next) => {
    try {
      const token = typeof req.body?.token === 'string' ? req.body.token : '';
      const expected = config.loginToken;
      const a = crypto.createHash('sha256').update(token).digest();
      const b = crypto.createHash('sha256').update(expected).digest();
      const ok = expected !== '' && crypto.timingSafeEqual(a, b);
      metrics.auth.inc({ result: ok ? 'success' : 'failure' });
      metrics.features.inc({ feature: 'login' });
      if (!ok) return res.status(401).json({ error: 'invalid credentials' });
      const id = crypto.randomUUID();
      await stores.openSession(id);
      state.addSession(id);
      return res.status(201).json({ session: id, expires_in: config.sessionTtlSeconds });
    } catch (err) {
      return next(err);
    }
  });

  // Slow work (bounded), for drain and load tests: answers after ?ms= milliseconds.
  app.get('/api/work', async (req, res) => {
    const ms = Math.min(Math.max(Number.parseInt(req.query.ms, 10) || 0, 0), config.maxWorkMs);
    await new Promise((resolve) => { setTimeout(resolve, ms); });
    res.json({ worked_ms: ms, hostname: config.hostname });
  });

  app.use((req, res) => res.status(404).json({ error: 'not found' }));

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const status = err.status || err.statusCode || 500;
    if (status >= 500) log.error('request failed', { path: req.path, error: err.message });
    // Messages of errors raised with an explicit status are ours (safe to show); others are hidden.
    res.status(status).json({ error: err.status ? err.message : 'internal error' });
  });

  return app;
}

module.exports = { createApp };
