# kfs engine and serving image: `docker run IMAGE run` (engine) or `docker run IMAGE serve`.
# TypeScript runs through tsx (no build step), so the dev dependencies are part of the runtime.
# bookworm (glibc) rather than alpine: uWebSockets.js ships a glibc-linked native addon.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
RUN mkdir -p /var/lib/kfs && chown node:node /var/lib/kfs
USER node
ENV KFS_DATA_DIR=/var/lib/kfs
ENTRYPOINT ["node", "bin/kfs.mjs"]
CMD ["serve"]
