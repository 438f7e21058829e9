import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // No X-Powered-By header, no telemetry in builds, no source maps for the browser.
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
  reactStrictMode: true,
  eslint: { ignoreDuringBuilds: true }, // `make lint` runs ESLint; the build need not again
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "X-Frame-Options", value: "DENY" },
          { key: "Referrer-Policy", value: "same-origin" },
          { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
        ],
      },
    ];
  },
};

export default nextConfig;
