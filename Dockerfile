# kubec2-operator image: built on Debian 12 with the project's own
# dependency script, run on debian:12-slim with only the shared libraries
# the binary needs, as user 65532 (docs/operations.md).
#
#   docker build -t kubec2/operator:0.1.0 .      (or podman/buildah/kaniko)
#
# No container engine runs on the project's machines; tests/deploy/
# runtime-libraries.sh checks on every `make test` that RUNTIME_LIBRARIES
# below are exactly the packages owning the libraries the built binary
# links (readelf -d, dpkg -S), so the runtime stage cannot miss one.

FROM debian:12 AS build
WORKDIR /src
COPY hack/install-deps.sh hack/install-deps.sh
# Compilers and libraries only: helm and kubectl (hack/install-tools.sh) are
# for tests and the demo, not the image.
RUN KUBEC2_SKIP_TOOLS=1 hack/install-deps.sh
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target kubec2-operator \
 && strip /build/bin/kubec2-operator

FROM debian:12-slim
# The packages owning the binary's NEEDED libraries (libc6, libgcc-s1 and
# libstdc++6 are in debian:12-slim already); apt brings their own
# dependencies. ca-certificates: Prometheus over HTTPS with the system's
# CAs; tzdata: scheduled actions' time zones.
ARG RUNTIME_LIBRARIES="libboost-program-options1.74.0 libcpprest2.10 libcurl4 libdate-tz3 libfmt9 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libspdlog1.10 libssl3 libyaml-cpp0.7"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $RUNTIME_LIBRARIES ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/kubec2-operator /usr/local/bin/kubec2-operator
# 65532: the conventional nonroot user (distroless); no home, no shell needed.
USER 65532:65532
EXPOSE 8080 8081 9443
ENTRYPOINT ["/usr/local/bin/kubec2-operator"]
