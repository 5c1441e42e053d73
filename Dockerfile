# syntax=docker/dockerfile:1
# The portcullis image: one static-enough binary on distroless (glibc, libgcc, CA
# certificates; no shell, no package manager), running as uid 65532.
#
#   docker build --build-arg PORTCULLIS_COMMIT="$(git rev-parse --short=12 HEAD)" -t portcullis .
#   docker run --rm portcullis --version
#
# .git is not in the build context (.dockerignore), so the commit `--version` and the
# start-up log line name comes in as PORTCULLIS_COMMIT; without it they say "unknown".
#
# CI assembles the same image without a Docker engine from the release binary.
FROM rust:1.95-bookworm AS build
ARG PORTCULLIS_COMMIT=""
WORKDIR /src
COPY . .
# --locked: exactly the versions in Cargo.lock. The cache mounts keep the registry and
# the target directory between builds (BuildKit); the binary is copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    PORTCULLIS_COMMIT="$PORTCULLIS_COMMIT" cargo build --release --locked --bin portcullis \
 && install -D -m 0755 target/release/portcullis /out/portcullis \
 && strip /out/portcullis \
 && /out/portcullis --version

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="portcullis" \
      org.opencontainers.image.description="Kubernetes operator and forward-auth outpost for OpenID Connect" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/portcullis-dev/portcullis"
COPY --from=build /out/portcullis /usr/local/bin/portcullis
# The chart's pod securityContext uses the same uid/gid (distroless `nonroot`).
USER 65532:65532
# outpost: 4180 (auth and login), 9090 (admin); operator: 8081 (admin).
EXPOSE 4180 9090 8081
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["--help"]
