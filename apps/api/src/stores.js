'use strict';
// The two data stores: PostgreSQL (pg Pool) and Redis (one server or a Redis Cluster, ioredis).
const { Pool } = require('pg');
const Redis = require('ioredis');

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function createPostgres(config, log) {
  if (!config.databaseConfigured) return null;
  const pool = new Pool({
    ...(config.databaseUrl ? { connectionString: config.databaseUrl } : {}),
    max: 10,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30000,
    application_name: config.service,
  });
  pool.on('error', (err) => log.warn('postgresql pool error', { error: err.message }));
  return pool;
}

function createRedis(config, log) {
  const common = {
    username: config.redisUsername,
    password: config.redisPassword,
    ...(config.redisTls ? { tls: {} } : {}),
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  let redis;
  if (config.redisClusterNodes.length > 0) {
    redis = new Redis.Cluster(config.redisClusterNodes, {
      redisOptions: common,
      enableOfflineQueue: false,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      slotsRefreshTimeout: 2000,
    });
  } else if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { ...common, enableOfflineQueue: false });
  } else {
    return null;
  }
  let last = '';
  redis.on('error', (err) => {
    if (err.message !== last) log.warn('redis error', { error: err.message });
    last = err.message;
  });
  redis.on('ready', () => {
    last = '';
    log.info('redis ready', { mode: config.redisClusterNodes.length > 0 ? 'cluster' : 'standalone' });
  });
  return redis;
}

class Stores {
  constructor(config, log) {
    this.config = config;
    this.log = log;
    this.pg = createPostgres(config, log);
    this.redis = createRedis(config, log);
    this.cluster = config.redisClusterNodes.length > 0;
    this.schema = null;
  }

  key(name) {
    return `${this.config.redisKeyPrefix}${name}`;
  }

  // Readiness: both stores answer within the timeout. Returns {ready, checks: {postgresql, redis}}.
  async check() {
    const ms = this.config.readyTimeoutMs;
    const checkPg = async () => {
      if (!this.pg) throw new Error('not configured (DATABASE_URL or PGHOST)');
      await withTimeout(this.pg.query('SELECT 1'), ms, 'postgresql');
    };
    const checkRedis = async () => {
      if (!this.redis) throw new Error('not configured (REDIS_CLUSTER_NODES or REDIS_URL)');
      if (this.redis.status !== 'ready') throw new Error(`connection ${this.redis.status}`);
      if (this.cluster) {
        const info = await withTimeout(this.redis.cluster('INFO'), ms, 'redis');
        if (!/cluster_state:ok/.test(info)) throw new Error('cluster_state is not ok');
      } else {
        await withTimeout(this.redis.ping(), ms, 'redis');
      }
    };
    const [pg, redis] = await Promise.allSettled([checkPg(), checkRedis()]);
    const checks = {
      postgresql: pg.status === 'fulfilled' ? 'ok' : pg.reason.message,
      redis: redis.status === 'fulfilled' ? 'ok' : redis.reason.message,
    };
    return { ready: checks.postgresql === 'ok' && checks.redis === 'ok', checks };
  }

  ensureSchema() {
    if (!this.schema) {
      this.schema = this.pg.query(
        `CREATE TABLE IF NOT EXISTS mss_interventions (
           id bigserial PRIMARY KEY,
           title text NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now())`,
      ).catch((err) => {
        this.schema = null;
        throw err;
      });
    }
    return this.schema;
  }

  requireBoth() {
    if (!this.pg || !this.redis) {
      const err = new Error('PostgreSQL and Redis must both be configured');
      err.status = 503;
      throw err;
    }
  }

  async createIntervention(title) {
    this.requireBoth();
    await this.ensureSchema();
    const { rows } = await this.pg.query(
      'INSERT INTO mss_interventions (title) VALUES ($1) RETURNING id::text AS id, title, created_at', [title],
    );
    const row = rows[0];
    await this.redis.set(this.key(`intervention:${row.id}`), JSON.stringify(row), 'EX', this.config.cacheTtlSeconds);
    const created = await this.redis.incr(this.key('interventions:created'));
    return { ...row, created_via_api: created };
  }

  async getIntervention(id) {
    this.requireBoth();
    const cached = await this.redis.get(this.key(`intervention:${id}`));
    if (cached) return { ...JSON.parse(cached), source: 'redis' };
    await this.ensureSchema();
    const { rows } = await this.pg.query(
      'SELECT id::text AS id, title, created_at FROM mss_interventions WHERE id = $1', [id],
    );
    if (rows.length === 0) return null;
    await this.redis.set(this.key(`intervention:${id}`), JSON.stringify(rows[0]), 'EX', this.config.cacheTtlSeconds);
    return { ...rows[0], source: 'postgresql' };
  }

  async summary() {
    this.requireBoth();
    await this.ensureSchema();
    const [{ rows }, created] = await Promise.all([
      this.pg.query('SELECT count(*)::int AS n, max(created_at) AS last FROM mss_interventions'),
      this.redis.get(this.key('interventions:created')),
    ]);
    return { interventions: rows[0].n, last_created_at: rows[0].last, created_via_api: Number(created || 0) };
  }

  async openSession(id) {
    await this.redis.set(this.key(`session:${id}`), '1', 'EX', this.config.sessionTtlSeconds);
  }

  async close() {
    const jobs = [];
    if (this.pg) jobs.push(this.pg.end().catch(() => {}));
    if (this.redis) jobs.push(this.redis.quit().catch(() => this.redis.disconnect()));
    await Promise.all(jobs);
  }
}

module.exports = { Stores, withTimeout };
