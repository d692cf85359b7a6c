# The fastkey demo (apps/demo), run from the workspace sources as `pnpm start` does locally.
# Build from the repository root: docker build -f docker/demo.Dockerfile .
# (docker compose does this for the `demo` service.)
FROM node:20-bookworm-slim

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
CMD ["pnpm", "start"]
