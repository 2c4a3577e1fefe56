# ordo server image. Build: `docker build -t ordo .`; run: `docker run -p 8080:8080 -v ordo-data:/data ordo`.
# Not built in CI (no Docker daemon there); see README, "Docker".

# Build stage: the dev dependencies (TypeScript) compile src/ to dist/src.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies and the compiled server only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    ORDO_HOST=0.0.0.0 \
    ORDO_PORT=8080 \
    ORDO_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
# The journals, snapshots and generated tokens.json live in the volume, owned by the unprivileged
# `node` user of the base image.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# 200 once the runtime takes commands; 503 while it replays its journal or drains.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ORDO_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains the commands in flight and flushes the journal before exiting.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/ordo.mjs"]
CMD ["serve"]
