'use strict';
// Prometheus metrics with the names and labels of the platform's metrics contract (docs/monitoring.md).
// One registry per process, kept on globalThis: server/entry.js (request counters) and the /metrics route
// (bundled by Next.js) load this file separately but must share it.
const client = require('prom-client');

const KEY = Symbol.for('mss.frontend.metrics');
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FEATURES = ['home', 'dashboard'];

function create() {
  const service = 'mss-frontend';
  const version = process.env.APP_VERSION || process.env.MSS_APP_VERSION || '0.0.0';
  const register = new client.Registry();
  register.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register });
  const m = {
    register,
    requests: new client.Counter({
      name: 'http_requests_total', help: 'HTTP requests served, by route and status code.',
      labelNames: ['method', 'route', 'status'], registers: [register],
    }),
    duration: new client.Histogram({
      name: 'http_request_duration_seconds', help: 'HTTP request duration in seconds.',
      labelNames: ['method', 'route'], buckets: BUCKETS, registers: [register],
    }),
    auth: new client.Counter({
      name: 'mss_auth_attempts_total', help: 'Login attempts by result.', labelNames: ['result'], registers: [register],
    }),
    sessions: new client.Gauge({
      name: 'mss_user_sessions_active', help: 'User sessions active (the frontend keeps none).', registers: [register],
    }),
    interventions: new client.Counter({
      name: 'mss_interventions_total', help: 'Interventions recorded.', registers: [register],
    }),
    reports: new client.Counter({
      name: 'mss_reports_generated_total', help: 'Dashboard reports rendered.', registers: [register],
    }),
    features: new client.Counter({
      name: 'mss_feature_usage_total', help: 'Uses of a feature.', labelNames: ['feature'], registers: [register],
    }),
    deployment: new client.Gauge({
      name: 'mss_deployment_info', help: 'The running version (always 1).', labelNames: ['version'], registers: [register],
    }),
  };
  m.auth.inc({ result: 'success' }, 0);
  m.auth.inc({ result: 'failure' }, 0);
  for (const feature of FEATURES) m.features.inc({ feature }, 0);
  m.deployment.set({ version }, 1);
  m.sessions.set(0);
  return m;
}

function metrics() {
  if (!globalThis[KEY]) globalThis[KEY] = create();
  return globalThis[KEY];
}

// The route label: known pages and endpoints by name, Next.js assets grouped, anything else "unmatched".
const ROUTES = new Set(['/', '/dashboard', '/api/health', '/metrics', '/favicon.ico']);
function routeOf(url) {
  const path = (url || '/').split('?')[0];
  if (ROUTES.has(path)) return path;
  if (path.startsWith('/_next/static/')) return '/_next/static';
  if (path.startsWith('/_next/')) return '/_next';
  return 'unmatched';
}

module.exports = { metrics, routeOf, BUCKETS };
