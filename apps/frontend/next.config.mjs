// Production build: a self-contained server (.next/standalone) copied into the runtime image.
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: 'standalone',
  poweredByHeader: false,
  reactStrictMode: true,
  // prom-client is required at run time from node_modules, so the request counters of server/entry.js and
  // the /metrics route share one registry.
  serverExternalPackages: ['prom-client'],
  // No image optimisation (nothing to optimise): keep sharp and its libvips out of the standalone server.
  images: { unoptimized: true },
  outputFileTracingExcludes: { '*': ['node_modules/sharp/**', 'node_modules/@img/**'] },
};

export default nextConfig;
