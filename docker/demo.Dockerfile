# The fastkey demo (apps/demo), run from the workspace sources like `pnpm start` does locally, but with
# node itself as the process: pnpm does not forward SIGTERM to its child (the server would be left
# running until the container is killed, without its graceful shutdown), and the tsx CLI would add a
# second process between the signal and the server.
# Build from the repository root: docker build -f docker/demo.Dockerfile .
# (docker compose does this for the `demo` service.)
# Pinned to the oldest Node the packages support (engines: >=20.19).
FROM node:20.19.0-bookworm-slim

# corepack cannot fetch pnpm 12 reliably; the npm package is the supported route.
RUN npm install -g pnpm@12.4.2 --no-audit --no-fund

WORKDIR /repo
ENV CI=true

# Dependencies first, keyed on the lockfile only, so source edits do not refetch the store.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch

COPY . .
# The demo runs TypeScript sources through tsx (a dev dependency), so dev dependencies stay.
RUN pnpm install --frozen-lockfile --offline

# NODE_ENV stays unset: the dev dependencies above are part of how the demo runs.
ENV PORT=3000
EXPOSE 3000
WORKDIR /repo/apps/demo
# What `pnpm start` runs, in this one process: SIGTERM reaches the server's own handler (finish
# in-flight requests, close the pool, exit 0). See apps/demo/README.md, "Run it".
CMD ["node", "--conditions=@fastkey/source", "--import", "tsx", "src/server.ts"]
