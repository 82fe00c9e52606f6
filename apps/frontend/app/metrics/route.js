import { metrics } from '../../lib/metrics';

export const dynamic = 'force-dynamic';

export async function GET() {
  const { register } = metrics();
  return new Response(await register.metrics(), { headers: { 'Content-Type': register.contentType } });
}
