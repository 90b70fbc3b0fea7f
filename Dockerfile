# The workspace's binaries (edge-node, alert-sink, inject) in one small non-root image.
#
#   docker build -t edge-fleet:0.1.0 .        (docker compose builds it for you)
#
# Plain layers only (no BuildKit cache mounts, heredocs or COPY --link/--chmod), so it builds
# with BuildKit and with the classic builder that Docker falls back to without the buildx
# plugin (scripts/checks/first_run.py holds it). The dependencies get a layer of their own:
# the manifests and lockfile first, with an empty target per crate, so a change to our
# sources recompiles our crates only.
FROM rust:1.95.0-slim-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates/alert-sink/Cargo.toml crates/alert-sink/
COPY crates/coverage/Cargo.toml crates/coverage/
COPY crates/edge-node/Cargo.toml crates/edge-node/
COPY crates/edge-sim/Cargo.toml crates/edge-sim/
COPY crates/exposition/Cargo.toml crates/exposition/
COPY crates/inject/Cargo.toml crates/inject/
COPY crates/rule-coverage/Cargo.toml crates/rule-coverage/
COPY crates/service-kit/Cargo.toml crates/service-kit/
COPY crates/stack-client/Cargo.toml crates/stack-client/
COPY crates/test-support/Cargo.toml crates/test-support/
# Empty targets (a lib, a main and each declared bench) so the manifests load; removed
# again, so only the compiled dependencies stay in this layer.
RUN for crate in crates/*/; do \
        mkdir -p "${crate}src" "${crate}benches" \
        && echo 'fn main() {}' > "${crate}src/main.rs" \
        && : > "${crate}src/lib.rs" \
        && sed -n '/^\[\[bench\]\]/,/^name/s/^name = "\(.*\)"/\1/p' "${crate}Cargo.toml" \
           | while read -r bench; do echo 'fn main() {}' > "${crate}benches/${bench}.rs"; done; \
    done \
    && cargo build --release --locked --bin edge-node --bin alert-sink --bin inject \
    && rm -rf crates
COPY crates ./crates
# Sources newer than the empty targets' build, or Cargo would keep the empty binaries.
RUN find crates -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin edge-node --bin alert-sink --bin inject \
    && mkdir -p /out \
    && cp target/release/edge-node target/release/alert-sink target/release/inject /out/

# Runtime: distroless cc (glibc and libgcc, no shell, no package manager), user 65532, on
# Debian 13 (the Debian 12 images' support ended in September 2026). Pinned by digest; refresh
# with `docker buildx imagetools inspect gcr.io/distroless/cc-debian13:nonroot`. Binaries built
# on bookworm's glibc 2.36 run on trixie's 2.41.
FROM gcr.io/distroless/cc-debian13:nonroot@sha256:84fcd3c223b144b0cb6edc5ecc75641819842a9679a3a58fd6294bec47532bf7
LABEL org.opencontainers.image.title="edge-fleet" \
      org.opencontainers.image.description="Simulated edge nodes with RED metrics and failure injection" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=build /out/ /usr/local/bin/
# The alert sink serves the runbooks that every alert's runbook_url points at.
COPY docs/runbooks /usr/share/edge-fleet/runbooks
ENV EDGE_BIND=0.0.0.0 \
    EDGE_PORT=8080 \
    ALERT_SINK_BIND=0.0.0.0 \
    ALERT_SINK_RUNBOOKS=/usr/share/edge-fleet/runbooks
USER 65532:65532
EXPOSE 8080
# No shell or curl in the image: the binary checks its own /healthz (exit 0 healthy, 1 not).
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/edge-node", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/edge-node"]
