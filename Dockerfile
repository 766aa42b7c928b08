# syntax=docker/dockerfile:1
# gatehouse in a container: build with the dev dependencies, ship without them, run as a non-root user.
#   docker build -t gatehouse .
#   docker run --rm -p 8080:8080 gatehouse                      # embedded demo config
#   docker run -d -p 80:8080 -p 443:8443 \
#     -v /srv/gatehouse/config:/etc/gatehouse:ro -v /srv/gatehouse/state:/var/lib/gatehouse \
#     -e GATEHOUSE_CONFIG=/etc/gatehouse/config.prod.json gatehouse
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, which are copied next.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY schema ./schema
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    GATEHOUSE_STATE_DIR=/var/lib/gatehouse
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/schema ./schema
COPY config.example.json ./
COPY certs/README.md ./certs/README.md
# Config and state are directories, so an editor that replaces config.json (write new file, rename) is seen.
RUN mkdir -p /etc/gatehouse /var/lib/gatehouse \
  && chown -R node:node /var/lib/gatehouse /app/certs
VOLUME ["/var/lib/gatehouse"]
USER node
EXPOSE 8080 8443
CMD ["npm", "start", "--silent"]
