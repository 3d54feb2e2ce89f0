# The authly image: one static binary that is both the operator (`authly operator`) and the
# server it deploys (`authly server`), so that both always agree on the database schema.
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) -t IMG .
#   (or: make docker-build IMG=...)

FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src

# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/authly .

# Static, no shell, no package manager; runs as the unprivileged "nonroot" user. `make image`
# builds the same image without Docker (hack/tools/image): the binary, CA certificates,
# passwd/group with nonroot (65532), /home/nonroot and /tmp, and these labels.
FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="authly" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=builder /out/authly /authly
USER 65532:65532
WORKDIR /
EXPOSE 8000
ENTRYPOINT ["/authly"]
