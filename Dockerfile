# syntax=docker/dockerfile:1
# The gateway image: `docker build -t omnigate:0.1.0 .`
# Stages: the project, its runtime dependencies from the hashed lock (requirements/lock.txt)
# and GraphiQL's browser files (three npm tarballs checked against package-lock.json) into
# a virtualenv; then a slim runtime with only that virtualenv and those files, as a non-root
# user. Nothing is resolved at build time: every distribution is the one the lock names.
# Pin the base image by digest (FROM image:tag@sha256:...) in your registry's CI.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- GraphiQL's files, the locked dependencies, the project ---------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# What `make install` puts in gateway/graphiql/assets (standard library only)
COPY tools/graphiql_assets.py tools/
COPY gateway/graphiql/package.json gateway/graphiql/package-lock.json gateway/graphiql/
RUN python tools/graphiql_assets.py --out /opt/omnigate/graphiql-assets
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Every runtime distribution with its hashes; pip, which installs them, and setuptools, which
# builds the project below, are in the lock too.
COPY requirements/lock.txt requirements/
RUN pip install --require-hashes --no-deps -r requirements/lock.txt
# LICENSE: the wheel's dist-info carries it (pyproject's license = "Apache-2.0")
COPY pyproject.toml README.md LICENSE ./
COPY gateway gateway
COPY engine engine
COPY resolvers resolvers
COPY commerce commerce
COPY connectors connectors
COPY sandbox sandbox
# The project alone, built by the locked setuptools (no build isolation: nothing unhashed is
# fetched); `pip check` fails the build if pyproject.toml asks for what the lock lacks.
# Byte-compile at build time: the runtime root filesystem is read-only.
RUN pip install --no-deps --no-build-isolation . \
    && pip check \
    && python -m compileall -q /opt/venv/lib

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 omnigate \
    && useradd --system --uid 10001 --gid omnigate --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin omnigate
COPY --from=build /opt/venv /opt/venv
# The package data holds GraphiQL's page; its vendor assets live outside site-packages.
COPY --from=build /opt/omnigate/graphiql-assets /opt/omnigate/graphiql-assets
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
