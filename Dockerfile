# syntax=docker/dockerfile:1
# The pg-kopf controller image: compiled in a build stage, run as a non-root user on a distroless Node.js 24
# runtime (no shell, no package manager), with production dependencies only.
# Build into minikube: minikube image build -t pg-kopf-controller:dev .

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts stay off: the image already has Node 24, and nothing the controller needs compiles at install time.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.controller.json ./
COPY core ./core
COPY crd ./crd
COPY controller ./controller
# --omit=dev on the uninstall too: without it npm installs the whole tree again after the prune, devDependencies
# (Biome, TypeScript, the Postgres binaries of the tests) included.
RUN npx tsc -p tsconfig.controller.json \
 && npm prune --omit=dev --ignore-scripts \
 && npm uninstall --omit=dev --ignore-scripts --no-audit --no-fund @pulumi/pulumi @pulumi/kubernetes

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
USER 65532:65532
EXPOSE 8080
# The same arguments as the Deployment sets (infra/operator.ts CONTROLLER_ARGS; a test keeps them equal).
CMD ["--lite-mode", "--max-old-space-size=128", "dist/controller/main.js"]
