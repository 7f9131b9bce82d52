# The image the manifests under config/ run: one static kanaria binary, its
# subcommand given by the Deployment's args (`controller`, `router
# --kubernetes`). modernc.org/sqlite needs no cgo, so the binary is static
# and the runtime image has no shell and no libc.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /kanaria ./cmd/kanaria

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /kanaria /kanaria
USER 65532:65532
ENTRYPOINT ["/kanaria"]
