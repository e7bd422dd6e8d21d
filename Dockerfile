# The production image: api, worker, migrate, ops and keygen in one static
# binary of about 85 MiB (the lean build: -tags lean leaves out dev mode's
# embedded Temporal server and Web UI, which `go run ./cmd/onboarding dev`
# keeps). No cgo: production persists to PostgreSQL (pgx, pure Go) and the
# SQLite driver the store registers is modernc.org/sqlite, pure Go too.
#
#   docker build -t onboarding .
#   docker run --env-file .env onboarding api     (or worker, migrate, ops …)

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -tags lean -trimpath -ldflags='-s -w' -o /out/onboarding ./cmd/onboarding

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/onboarding /onboarding
USER nonroot
# 8080: HTTP_ADDR (api); 9090: METRICS_ADDR (worker; api with METRICS_ADDR set).
EXPOSE 8080 9090
ENTRYPOINT ["/onboarding"]
CMD ["api"]
