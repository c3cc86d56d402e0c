# model-router images: FROM scratch, one static binary, one image per routes environment.
#
# Here (no registry access) the binary is built on the host and only the `runtime` stage is
# built; the builder stage is skipped and never pulled:
#   scripts/build-static local
#   podman --storage-driver vfs build --network none --pull=never --timestamp 1767225600 \
#     --no-cache --layers=false --identity-label=false --unsetenv PATH \
#     --target runtime --build-arg BINARY=dist/model-router-local -t model-router:local .
# (scripts/test-packaging builds it exactly so, twice, and compares the digests.)
#
# With registry access, the default (last) stage builds the binary from source first:
#   podman build --timestamp 1767225600 --identity-label=false --unsetenv PATH \
#     --build-arg MODEL_ROUTER_ENV=local -t model-router:local .

# ---- builder: the same scripts/build-static, inside the pinned Rust image ----
FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG MODEL_ROUTER_ENV=base
RUN scripts/build-static "$MODEL_ROUTER_ENV" \
 && cp "dist/model-router-$MODEL_ROUTER_ENV" /model-router

# ---- runtime: the binary built on the host (dist/model-router-ENV) ----
FROM scratch AS runtime
ARG BINARY=dist/model-router-base
COPY ${BINARY} /model-router
USER 65532:65532
EXPOSE 4000
ENTRYPOINT ["/model-router"]

# ---- release (default): the same runtime, with the binary from the builder stage ----
FROM scratch AS release
COPY --from=builder /model-router /model-router
USER 65532:65532
EXPOSE 4000
ENTRYPOINT ["/model-router"]
