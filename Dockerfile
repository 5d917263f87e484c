# syntax=docker/dockerfile:1
# flowgate's container image: a locked release build, then a small runtime image that runs it as
# an unprivileged user. Build with `docker build -t flowgate .`; docs/operations.md explains
# how to run it.

# --- build ---------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds; the binary is copied
# out of the cached target directory because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin flowgate \
 && install -m 0755 target/release/flowgate /usr/local/bin/flowgate

# --- runtime -------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: Flow (and `send --url https://…`) is called over HTTPS, verified against the
# system's roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 flowgate \
 && useradd --system --uid 10001 --gid flowgate --home-dir /srv/flowgate --shell /usr/sbin/nologin flowgate
COPY --from=builder /usr/local/bin/flowgate /usr/local/bin/flowgate
# Relative paths in config.toml (schemas, the embedded database under data/) resolve against
# its directory, so the configuration, its schemas and the data live together. The configuration
# is the production template, never the demo's: started without its secrets' variables, the
# image exits naming each one. Mount your own over /srv/flowgate/config.toml.
WORKDIR /srv/flowgate
COPY deploy/config.toml ./config.toml
COPY schemas/ ./schemas/
# The store: webhooks answered 202 and not delivered yet live there, so it is a volume that
# outlives the container. Created and owned here first, so a new volume starts writable by the
# unprivileged user.
RUN mkdir data && chown flowgate:flowgate data
VOLUME ["/srv/flowgate/data"]
LABEL org.opencontainers.image.title="flowgate" \
      org.opencontainers.image.description="A webhook gateway between marketing vendors and Core's Flow API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
USER 10001:10001
# The listeners default to loopback; in a container they must be reachable from outside it.
ENV FLOWGATE_SERVER__LISTEN=0.0.0.0:8080 \
    FLOWGATE_SERVER__ADMIN_LISTEN=0.0.0.0:9090
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=6s --start-period=5s --retries=3 CMD ["flowgate", "healthcheck"]
# SIGTERM starts the graceful shutdown: not ready at once, drain, then exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["flowgate"]
CMD ["serve"]
