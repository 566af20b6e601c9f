# Plexus node image: a static binary on distroless, run as a non-root user,
# the repo on a volume. See README, "Running it as a service".
#   docker build --build-arg COMMIT=$(git rev-parse HEAD) -t plexus .
#   docker run -d --name plexus -v plexus:/data \
#     -p 4101:4101/tcp -p 4101:4101/udp -p 4102:4102/tcp -p 4103:4103/udp \
#     -p 127.0.0.1:5101:5101/tcp plexus
# e2e/service_test.go builds the binary with the same command and checks
# this file (ports, user, volume, the API setting).

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build has no .git (see .dockerignore): the commit comes from the build argument.
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/plexus-p2p/plexus/node.Commit=${COMMIT}" -o /out/plexus ./cmd/plexus
# The volume's mount point, owned by the image's user so that a new volume is too.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/plexus /usr/local/bin/plexus
COPY --from=build --chown=65532:65532 /out/data /data
ENV PLEXUS_PATH=/data
VOLUME /data
# libp2p: TCP and QUIC/WebTransport 4101, WebSocket 4102, WebRTC-direct 4103.
# HTTP API: 5101 (bearer token in /data/api.token); publish it on the host's loopback only.
EXPOSE 4101/tcp 4101/udp 4102/tcp 4103/udp 5101/tcp
USER 65532:65532
# "plexus wait" succeeds once the node has started and its API answers.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s CMD ["/usr/local/bin/plexus", "wait", "--timeout", "5s"]
ENTRYPOINT ["/usr/local/bin/plexus"]
# The API must be reachable from the host through the published port, so it
# binds beyond loopback inside the container: an explicit setting.
CMD ["daemon", "--api", "0.0.0.0:5101", "--api-allow-remote"]
