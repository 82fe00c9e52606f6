import { fetchSummary } from '../../lib/api';
import { metrics } from '../../lib/metrics';

// Rendered for every request on the server: API_URL is read at run time, never baked into the build.
export const dynamic = 'force-dynamic';

export default async function Dashboard() {
  const result = await fetchSummary();
  if (result.ok) metrics().reports.inc();
  return (
    <>
      <h1>Dashboard</h1>
      {result.ok ? (
        <table>
          <tbody>
            <tr><th align="left">Interventions (PostgreSQL)</th><td id="interventions">{result.data.interventions}</td></tr>
            <tr><th align="left">Created through the API (Redis)</th><td id="created">{result.data.created_via_api}</td></tr>
            <tr><th align="left">API version</th><td id="api-version">{result.data.version}</td></tr>
            <tr><th align="left">Served by</th><td id="api-host">{result.data.hostname}</td></tr>
          </tbody>
        </table>
      ) : (
        <p id="api-error" role="alert">The API is not answering: {result.error}</p>
      )}
    </>
  );
}
