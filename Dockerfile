# The onboarding binary (api, worker, migrate, ops roles). Production persists
# to PostgreSQL; the SQLite driver is pure Go, so no cgo is needed.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/onboarding ./cmd/onboarding

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/onboarding /usr/local/bin/onboarding
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/onboarding"]
CMD ["api"]
