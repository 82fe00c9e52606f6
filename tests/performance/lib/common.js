// Shared pieces of the k6 suites: base URL, the spec's thresholds, and one user journey.
// Requests carry a `name` tag (homepage, api, dashboard): the thresholds below and the
// mss.platform.k6_gate module's defaults select those tag sub-metrics.
import http from 'k6/http';
import { check, group, sleep } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const HOMEPAGE_PATH = __ENV.HOMEPAGE_PATH || '/';
export const API_PATH = __ENV.API_PATH || '/api/health';
export const DASHBOARD_PATH = __ENV.DASHBOARD_PATH || '/dashboard';
const THINK_TIME = Number(__ENV.THINK_TIME || '1');

// The spec's "Performance Benchmarks": homepage p95 < 2 s, API p95 < 200 ms, dashboard
// p95 < 3 s, 1000+ req/s, plus an error-rate and a checks budget.
export const THRESHOLDS = {
  'http_req_duration{name:homepage}': ['p(95)<2000'],
  'http_req_duration{name:api}': ['p(95)<200'],
  'http_req_duration{name:dashboard}': ['p(95)<3000'],
  http_reqs: ['rate>1000'],
  http_req_failed: ['rate<0.01'],
  checks: ['rate>0.99'],
};

// Percentiles the gate reads from --summary-export / handleSummary files.
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

function get(path, name) {
  const res = http.get(`${BASE_URL}${path}`, { tags: { name } });
  check(res, { [`${name} status is 2xx`]: (r) => r.status >= 200 && r.status < 300 });
  return res;
}

export function journey() {
  group('homepage', () => {
    get(HOMEPAGE_PATH, 'homepage');
  });
  group('api', () => {
    get(API_PATH, 'api');
  });
  group('dashboard', () => {
    get(DASHBOARD_PATH, 'dashboard');
  });
  if (THINK_TIME > 0) {
    sleep(THINK_TIME);
  }
}
