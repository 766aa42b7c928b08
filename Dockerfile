# gatehouse in a container: build with the dev dependencies, ship without them, run as the non-root user node
# (uid 1000) under tini (PID 1: forwards SIGTERM/SIGHUP to node, reaps zombies).
#
# The base images are built locally, without an image registry (README, "In a container"):
#   scripts/docker-base.sh            # gatehouse-base:node24-bookworm (+ its -build tag with npm); cached
#   docker build -t gatehouse .
# With registry access, the official node image works too (tini is then installed from Debian):
#   docker build -t gatehouse --build-arg BASE_IMAGE=node:24-bookworm-slim --build-arg BUILD_IMAGE=node:24-bookworm-slim .
#
#   docker run -d -p 80:8080 -p 443:8443 \
#     -v /srv/gatehouse/config:/etc/gatehouse:ro -v /srv/gatehouse/state:/var/lib/gatehouse \
#     -e GATEHOUSE_CONFIG=/etc/gatehouse/config.prod.json gatehouse
#
# No `# syntax=` line: BuildKit would pull its frontend from a registry; this file builds with BuildKit or the
# classic builder as it is.
ARG BASE_IMAGE=gatehouse-base:node24-bookworm
ARG BUILD_IMAGE=gatehouse-base:node24-bookworm-build

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, which are copied next.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY schema ./schema
COPY scripts/bundle-cli.mjs ./scripts/
# Only the production dependencies go on, without what only editors, debuggers and their own test suites use
# (type declarations, source maps, readmes, changelogs, a package's top-level test directory): 10 MB less.
# Licenses stay.
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
       -o -iname 'readme*' -o -iname 'changelog*' -o -iname 'history.md' \) -delete \
  && for d in node_modules/*/ node_modules/@*/*/ node_modules/*/node_modules/*/ node_modules/*/node_modules/@*/*/; do \
       rm -rf "${d}test" "${d}tests" "${d}__tests__"; \
     done

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    GATEHOUSE_STATE_DIR=/var/lib/gatehouse
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/schema ./schema
COPY config.example.json ./
COPY certs/README.md ./certs/README.md
# Config and state are directories, so an editor that replaces config.json (write new file, rename) is seen.
# tini is in gatehouse-base; the official node images do not have it.
RUN { command -v tini >/dev/null || { apt-get update && apt-get install -y --no-install-recommends tini \
        && rm -rf /var/lib/apt/lists/*; }; } \
  && mkdir -p /etc/gatehouse /var/lib/gatehouse \
  && chown node:node /var/lib/gatehouse /app/certs
VOLUME ["/var/lib/gatehouse"]
USER node
EXPOSE 8080 8443
# `gatehouse health`: exit 0 when the instance of this config answers on its control socket and its entry points
# accept connections.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["node", "/app/dist/cli/main.js", "health"]
# node itself under tini, not npm: npm in front of node swallowed SIGTERM (no drain) and SIGHUP (no reload).
# --max-semi-space-size=8: V8's young generation capped at two 8 MiB halves; --heap-growing-percent=50: a full
# collection when the old generation has grown by half since the last (README, "Memory").
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=8", "--heap-growing-percent=50", "/app/dist/cli/main.js"]
CMD ["start"]
