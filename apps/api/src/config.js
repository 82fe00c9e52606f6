'use strict';
// Settings, all from the environment (the app role injects a ConfigMap and a Secret as environment variables).
const os = require('node:os');
const { version } = require('../package.json');

function int(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number.parseInt(raw, 10);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

function bool(name, fallback) {
  const raw = (process.env[name] || '').toLowerCase();
  if (raw === '') return fallback;
  return ['1', 'true', 'yes', 'on'].includes(raw);
}

function redisNodes(raw) {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((hp) => {
    const at = hp.lastIndexOf(':');
    if (at <= 0) return { host: hp, port: 6379 };
    return { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port: Number.parseInt(hp.slice(at + 1), 10) };
  });
}

const env = process.env;
module.exports = Object.freeze({
  service: 'mss-api',
  version: env.APP_VERSION || version,
  hostname: os.hostname(),
  host: env.HOST || '0.0.0.0',
  port: int('PORT', 8080),
  logLevel: (env.LOG_LEVEL || 'info').toLowerCase(),
  // PostgreSQL: DATABASE_URL (postgres://user:password@host:port/db?sslmode=...) or libpq's PG* variables
  // (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), which the pg driver reads itself.
  databaseUrl: env.DATABASE_URL || '',
  databaseConfigured: Boolean(env.DATABASE_URL || env.PGHOST),
  // Redis: REDIS_CLUSTER_NODES (host:port,host:port: the platform's Redis Cluster) or REDIS_URL (one server).
  redisClusterNodes: env.REDIS_CLUSTER_NODES ? redisNodes(env.REDIS_CLUSTER_NODES) : [],
  redisUrl: env.REDIS_URL || '',
  redisUsername: env.REDIS_USERNAME || undefined,
  redisPassword: env.REDIS_PASSWORD || undefined,
  redisTls: bool('REDIS_TLS', false),
  redisKeyPrefix: env.REDIS_KEY_PREFIX || 'mss:',
  // Readiness: each dependency check is bounded by this timeout.
  readyTimeoutMs: int('READY_TIMEOUT_MS', 1000),
  // SIGTERM: keep serving (readiness false) for SHUTDOWN_DELAY_MS so the endpoints controller removes the Pod,
  // then stop accepting, drain in-flight requests, and give up after SHUTDOWN_TIMEOUT_MS (keep both under the
  // Pod's terminationGracePeriodSeconds).
  shutdownDelayMs: int('SHUTDOWN_DELAY_MS', 5000),
  shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 20000),
  // POST /api/login compares the presented token with this secret; unset = every attempt fails.
  loginToken: env.API_LOGIN_TOKEN || '',
  sessionTtlSeconds: int('SESSION_TTL_SECONDS', 900),
  cacheTtlSeconds: int('CACHE_TTL_SECONDS', 300),
  maxWorkMs: 10000,
});
