# syntax=docker/dockerfile:1
#
# The pvs image: one `pvs` binary holding every service, with links named after them
# (`ingestor`, `preprocessor`, `registrar`, `seeder`, `renderer`, `cache`), so a container runs
# a service by its name as command:
#
#   docker build -t pvs .
#   docker run --rm -e REDIS_URL=redis://redis:6379 pvs ingestor
#
# Services listen on 0.0.0.0:8080 inside the container (LISTEN_ADDR); /health is the
# HEALTHCHECK, /ready says whether the backends answer, /metrics is for Prometheus. See
# docs/operations.md.

ARG DEBIAN_RELEASE=bookworm

# --- build: the Rust toolchain and the GDAL headers ----------------------------------------
FROM rust:1.95-slim-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libgdal-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and the target folder are BuildKit caches: a rebuild after a source change
# compiles pvs's crates only. The binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package pvs \
 && install -D -m 0755 target/release/pvs /out/pvs

# --- runtime: the GDAL shared libraries only ------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# libgdal32 brings PROJ and its data; ca-certificates for https object storage; curl for the
# HEALTHCHECK (GDAL already needs libcurl, so the tool adds little).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgdal32 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pvs /usr/local/bin/pvs
RUN for service in ingestor preprocessor registrar seeder renderer cache; do \
      ln -s pvs "/usr/local/bin/$service"; \
    done \
 && groupadd --system --gid 10001 pvs \
 && useradd --system --uid 10001 --gid pvs --home-dir /var/lib/pvs --create-home \
      --shell /usr/sbin/nologin pvs \
 && install -d -o pvs -g pvs /var/tmp/pvs /srv/sftp/from/fepd /srv/sftp/to/panda
USER 10001:10001
WORKDIR /var/lib/pvs
ENV LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    PREPROCESS_WORK_DIR=/var/tmp/pvs
EXPOSE 8080
# Liveness only: a service whose backends are down still answers /health (and says so on
# /ready); restarting it would not bring the backends back.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:8080/health"]
CMD ["pvs", "--help"]
