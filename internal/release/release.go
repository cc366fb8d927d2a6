// Package release holds how the shipped binaries are built, for the
// packaging and for the benchmarks that must measure what ships.
package release

// Tags are the build tags of the release binaries. grpcnotrace leaves out
// grpc-go's request tracing (golang.org/x/net/trace, with html/template):
// nothing turns it on, and it is a fifth of the agent's binary, all of it
// mapped and resident while the service runs.
const Tags = "grpcnotrace"
