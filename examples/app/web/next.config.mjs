import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server (.next/standalone/web/server.js) started with plain `node`.
  output: "standalone",
  // The npm workspace root (examples/app), where the lockfile and node_modules are.
  outputFileTracingRoot: path.join(here, ".."),
  poweredByHeader: false,
};

export default nextConfig;
