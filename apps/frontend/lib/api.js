// Server-side calls to the API (API_URL, e.g. http://mss-api:8080 inside the cluster).
export async function fetchSummary() {
  const base = (process.env.API_URL || 'http://mss-api:8080').replace(/\/+$/, '');
  const timeoutMs = Number.parseInt(process.env.API_TIMEOUT_MS || '3000', 10);
  try {
    const res = await fetch(`${base}/api/summary`, { cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { ok: false, error: `HTTP ${res.status}` };
    return { ok: true, data: await res.json() };
  } catch (err) {
    return { ok: false, error: err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : err.message };
  }
}
