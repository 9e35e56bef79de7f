# kfs engine and serving image: `docker run IMAGE run` (engine) or `docker run IMAGE serve`.
# No build step: Node 24 strips kfs's types itself, and tsx loads a user's definitions module.
# Node 24 LTS, the baseline. trixie (glibc 2.41) rather than alpine or bookworm: uWebSockets.js
# builds are glibc-linked and current ones need glibc 2.38. Where no uWS build loads, `kfs serve`
# says so at start and runs its declared node:http + ws transport (README, "Serving").
FROM node:24-trixie-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
RUN mkdir -p /var/lib/kfs && chown node:node /var/lib/kfs
USER node
ENV KFS_DATA_DIR=/var/lib/kfs
ENTRYPOINT ["node", "bin/kfs.mjs"]
CMD ["serve"]
