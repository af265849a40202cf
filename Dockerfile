# syntax=docker/dockerfile:1
# The gateway image: `docker build -t omnigate:0.1.0 .`
# Stages: GraphiQL's browser assets from the npm registry (pinned by package-lock.json), the
# project and its runtime dependencies into a virtualenv (`pip install .`, no dev extras),
# then a slim runtime with only that virtualenv, as a non-root user.
# Pin the base images by digest (FROM image:tag@sha256:...) in your registry's CI.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# --- GraphiQL assets: what `make install` copies into gateway/graphiql/assets -------------
FROM ${NODE_IMAGE} AS graphiql
WORKDIR /build
COPY gateway/graphiql/package.json gateway/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
    && mkdir assets \
    && cp node_modules/react/umd/react.production.min.js \
          node_modules/react-dom/umd/react-dom.production.min.js \
          node_modules/graphiql/graphiql.min.js \
          node_modules/graphiql/graphiql.min.css \
          assets/

# --- the project and its runtime dependencies ----------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# LICENSE: the wheel's dist-info carries it (pyproject's license = "Apache-2.0")
COPY pyproject.toml README.md LICENSE ./
COPY gateway gateway
COPY engine engine
COPY resolvers resolvers
COPY commerce commerce
COPY connectors connectors
COPY sandbox sandbox
# Byte-compile at build time: the runtime root filesystem is read-only.
RUN pip install . \
    && python -m compileall -q /opt/venv/lib

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 omnigate \
    && useradd --system --uid 10001 --gid omnigate --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin omnigate
COPY --from=build /opt/venv /opt/venv
# The package data holds GraphiQL's page; its vendor assets live outside site-packages.
COPY --from=graphiql /build/assets /opt/omnigate/graphiql-assets
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMNIGATE_ENV=production \
    OMNIGATE_HOST=0.0.0.0 \
    OMNIGATE_PORT=8000 \
    OMNIGATE_GRAPHIQL_ASSETS_DIR=/opt/omnigate/graphiql-assets
# An empty working directory: no `.env` is ever read from the image.
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["omnigate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
