// Liveness and readiness of the frontend: the server process answers (it needs nothing else to serve pages).
export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ status: 'ok', service: 'mss-frontend', version: process.env.APP_VERSION || '0.0.0' });
}
