# syntax=docker/dockerfile:1
# The pg-kopf controller image: compiled in a build stage, run as a non-root user on a distroless Node.js 24
# runtime (no shell, no package manager), with production dependencies only, and libpq with MIT Kerberos for
# servers that authenticate by GSSAPI.
# Build into minikube: minikube image build -t pg-kopf-controller:dev .

# The full image, not -slim: it has libpq's headers and a compiler for pg-native's libpq binding.
FROM node:24-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts stay off but one: the libpq binding compiles against libpq-dev and the Node headers the image has.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm_config_nodedir=/usr/local npm rebuild libpq --no-audit --no-fund
COPY tsconfig.json tsconfig.controller.json ./
COPY core ./core
COPY crd ./crd
COPY controller ./controller
# --omit=dev on the uninstall too: without it npm installs the whole tree again after the prune, devDependencies
# (Biome, TypeScript, the Postgres binaries of the tests) included.
RUN npx tsc -p tsconfig.controller.json \
 && npm prune --omit=dev --ignore-scripts \
 && npm uninstall --omit=dev --ignore-scripts --no-audit --no-fund @pulumi/pulumi @pulumi/kubernetes
# The shared libraries the binding needs that the runtime lacks (libpq, MIT Kerberos, LDAP and theirs), as the
# dynamic linker resolves them here: the runtime has no package manager to install them.
RUN mkdir -p /opt/pg-kopf/lib \
 && ldd node_modules/libpq/build/Release/addon.node | awk '$3 ~ /^\// { print $3 }' \
  | grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libssl|libcrypto)\.so' \
  | xargs -r cp -L -t /opt/pg-kopf/lib

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
COPY --from=build /opt/pg-kopf/lib /usr/lib/pg-kopf
ENV LD_LIBRARY_PATH=/usr/lib/pg-kopf
USER 65532:65532
EXPOSE 8080
# The same arguments as the Deployment sets (infra/operator.ts CONTROLLER_ARGS; a test keeps them equal).
CMD ["--lite-mode", "--max-old-space-size=128", "dist/controller/main.js"]
