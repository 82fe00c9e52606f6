'use strict';
// Prometheus metrics with the names and labels of the platform's metrics contract (docs/monitoring.md):
// the alert rules, recording rules and dashboards query exactly these.
const client = require('prom-client');

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FEATURES = ['interventions', 'reports', 'login'];

function create({ service, version }) {
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
      name: 'mss_user_sessions_active', help: 'User sessions opened here and not yet expired.', registers: [register],
    }),
    interventions: new client.Counter({
      name: 'mss_interventions_total', help: 'Interventions recorded.', registers: [register],
    }),
    reports: new client.Counter({
      name: 'mss_reports_generated_total', help: 'Reports generated.', registers: [register],
    }),
    features: new client.Counter({
      name: 'mss_feature_usage_total', help: 'Uses of a feature.', labelNames: ['feature'], registers: [register],
    }),
    deployment: new client.Gauge({
      name: 'mss_deployment_info', help: 'The running version (always 1).', labelNames: ['version'], registers: [register],
    }),
  };
  // Every series exists from the start (rate() and absent() need them before the first event).
  m.auth.inc({ result: 'success' }, 0);
  m.auth.inc({ result: 'failure' }, 0);
  for (const feature of FEATURES) m.features.inc({ feature }, 0);
  m.deployment.set({ version }, 1);
  m.sessions.set(0);
  return m;
}

module.exports = { create, BUCKETS };
