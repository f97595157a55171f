# The tagship worker image: Node 20 with git, buildah (the in-container image builder), QEMU's
# user-mode emulators (RUN steps of foreign platforms; the host registers binfmt handlers with the
# F flag, e.g. `docker run --privileged --rm tonistiigi/binfmt --install arm64`), python3 and uv.
# Build: docker build -t tagship . ; run: docker run tagship worker

# ---- build: compile to JavaScript and prebuild the workflow bundle (npm run build) -------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.js ./scripts/
# src/dev is compiled too (src/cli/main.ts reaches it through a dynamic import) and then dropped
# by the build: the image has no dev stack, and `tagship dev` says so.
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
RUN npm run build

# ---- the image: plain Node runs dist/ with production dependencies only (no tsx, no sources) -----
FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      git buildah fuse-overlayfs qemu-user-static python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# uv and twine (publish and metadata checks) in their own venv, on PATH.
RUN python3 -m venv /opt/tagship-tools \
 && /opt/tagship-tools/bin/pip install --no-cache-dir 'uv>=0.9' 'twine>=6'
ENV PATH=/opt/tagship-tools/bin:$PATH \
    PYTHON=/opt/tagship-tools/bin/python \
    TAGSHIP_HOME=/var/lib/tagship \
    BUILDAH_ISOLATION=chroot
WORKDIR /opt/tagship
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
# dist/workflow-bundle.js is picked up by the worker: no webpack at start.
COPY --from=build /src/dist ./dist
RUN mkdir -p /var/lib/tagship/work /var/lib/tagship/artifacts
ENTRYPOINT ["node", "/opt/tagship/bin/tagship.js"]
CMD ["worker"]
