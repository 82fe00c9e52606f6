// Standard load test: k6 run -e BASE_URL=https://staging.example.org tests/performance/load-test.js
// Ramps to the expected concurrency, holds it, ramps down. Thresholds are the spec's benchmarks.
import { journey, SUMMARY_TREND_STATS, THRESHOLDS } from './lib/common.js';

const TARGET_VUS = Number(__ENV.TARGET_VUS || '200');

export const options = {
  scenarios: {
    load: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: __ENV.RAMP_UP || '2m', target: TARGET_VUS },
        { duration: __ENV.HOLD || '10m', target: TARGET_VUS },
        { duration: __ENV.RAMP_DOWN || '1m', target: 0 },
      ],
      gracefulRampDown: '30s',
    },
  },
  thresholds: THRESHOLDS,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export default function () {
  journey();
}
