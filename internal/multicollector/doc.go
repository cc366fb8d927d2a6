// Package multicollector holds the tests of several collectors sharing one
// PostgreSQL store: real gRPC and mutual TLS between real agents (uplink,
// reporter, spool) and collectors that load one CA from shared files, a
// throw-away PostgreSQL cluster (internal/pgtest), and the counts taken
// from the shared store. It has no code of its own.
package multicollector
