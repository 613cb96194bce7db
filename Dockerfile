# Container image of kmip-adapter (documented; not built in CI, which has no
# Docker engine). Build: docker build -t kmip-adapter .
# Run: docker run -p 5696:5696 -v /etc/kmip-adapter:/etc/kmip-adapter:ro \
#        -v kmip-data:/var/lib/kmip-adapter kmip-adapter
# The PKCS#11 module of the HSM (Luna client, or SoftHSM2 below) must be in
# the image or mounted into it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath \
      -ldflags "-s -w -X github.com/kmip-adapter/kmip-adapter/cmd/internal/cli.Version=${VERSION}" \
      -o /out/ ./cmd/kmip-adapter ./cmd/kmipctl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends softhsm2 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/kmip-adapter kmip-adapter \
    && install -d -o kmip-adapter -m 0700 /var/lib/kmip-adapter
COPY --from=build /out/ /usr/local/bin/
USER kmip-adapter
EXPOSE 5696 9696
ENTRYPOINT ["/usr/local/bin/kmip-adapter"]
CMD ["serve", "--config", "/etc/kmip-adapter/config.yaml"]
