export default function Home() {
  return (
    <>
      <h1>MSS Platform</h1>
      <p>
        This is the platform&apos;s reference frontend: a small Next.js application deployed with the API to prove
        that a new environment serves traffic end to end (ingress, frontend, API, PostgreSQL, Redis, metrics).
      </p>
      <p>The <a href="/dashboard">dashboard</a> shows what the API reads from PostgreSQL and Redis.</p>
    </>
  );
}
