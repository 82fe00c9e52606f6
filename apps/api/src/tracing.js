'use strict';
// OpenTelemetry tracing, loaded with `node --require` before the app so HTTP, Express, pg and ioredis are
// instrumented. Off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; spans go
// over OTLP/HTTP (JSON) to that endpoint (e.g. the platform's OpenTelemetry Collector, :4318).
const env = process.env;
const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '';

globalThis.__mssTracing = { enabled: false, shutdown: async () => {} };

if (endpoint && (env.OTEL_SDK_DISABLED || '').toLowerCase() !== 'true') {
  // Only traces: no OTLP metrics or logs (metrics are scraped from /metrics, logs go to stdout).
  env.OTEL_METRICS_EXPORTER = env.OTEL_METRICS_EXPORTER || 'none';
  env.OTEL_LOGS_EXPORTER = env.OTEL_LOGS_EXPORTER || 'none';
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { version } = require('../package.json');

  const quiet = new Set(['/health', '/ready', '/metrics']);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'mss-api',
      'service.version': env.APP_VERSION || version,
    }),
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => quiet.has((req.url || '').split('?')[0]) }),
      new ExpressInstrumentation(),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  globalThis.__mssTracing = { enabled: true, endpoint, shutdown: () => sdk.shutdown() };
}
