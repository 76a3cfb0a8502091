# syntax=docker/dockerfile:1
#
# Image of the token-authority server, with the tokenctl operator CLI beside
# it. Build from the repository root:
#   docker build -t REGISTRY/token-authority:TAG .

# Rust toolchain of the build stage. Cargo.toml's rust-version is the
# minimum. Bookworm matches the glibc of the distroless runtime below.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and build output between builds.
# target/ is a cache mount, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin token-authority --bin tokenctl \
    && mkdir -p /out \
    && cp target/release/token-authority /out/ \
    && cp target/release/tokenctl /out/

# Distroless "cc" has glibc and libgcc but no shell or package manager. The
# :nonroot tag runs as user and group 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ /usr/local/bin/
USER 65532:65532
# gRPC, then the Prometheus /metrics endpoint.
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/token-authority"]
