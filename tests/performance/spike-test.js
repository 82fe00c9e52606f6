// Spike test: k6 run -e BASE_URL=... tests/performance/spike-test.js
// A short baseline, a sudden jump to SPIKE_VUS, a hold, a sudden drop, and a recovery period:
// the thresholds (the spec's benchmarks) must hold across the whole run, recovery included.
import { journey, SUMMARY_TREND_STATS, THRESHOLDS } from './lib/common.js';

const BASELINE_VUS = Number(__ENV.BASELINE_VUS || '50');
const SPIKE_VUS = Number(__ENV.SPIKE_VUS || '1000');

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '1m', target: BASELINE_VUS },
        { duration: '10s', target: SPIKE_VUS },
        { duration: '3m', target: SPIKE_VUS },
        { duration: '10s', target: BASELINE_VUS },
        { duration: '3m', target: BASELINE_VUS },
        { duration: '30s', target: 0 },
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
