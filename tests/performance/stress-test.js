// Stress test: k6 run --vus 500 --duration 30m -e BASE_URL=... tests/performance/stress-test.js
// 500 concurrent users (the spec's "500+ supported") for 30 minutes, with the spec's thresholds.
// The CLI flags of the spec's command and these options say the same thing.
import { journey, SUMMARY_TREND_STATS, THRESHOLDS } from './lib/common.js';

export const options = {
  vus: Number(__ENV.VUS || '500'),
  duration: __ENV.DURATION || '30m',
  thresholds: THRESHOLDS,
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export default function () {
  journey();
}
