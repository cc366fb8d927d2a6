package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/encoding"
)

// SetBacktestStarted makes every Backtest call run fn once it holds the
// one-at-a-time slot, until the test ends.
func SetBacktestStarted(t testing.TB, fn func(context.Context)) {
	backtestStarted.Store(&fn)
	t.Cleanup(func() { backtestStarted.Store(nil) })
}

// For the external tests, which may import the simulator (it imports this
// package).
var (
	DecodeLenient = decodeLenient
	DecodeRequest = decodeRequest
	NewWireCodec  = func() encoding.CodecV2 { return newWireCodec() }
)

// SetBackupStallLimit shortens how long a backup waits for a client that
// reads nothing. Call it before starting the collector, so that it is
// restored after the collector has stopped.
func SetBackupStallLimit(t testing.TB, d time.Duration) {
	old := backupStallLimit
	backupStallLimit = d
	t.Cleanup(func() { backupStallLimit = old })
}
