package server

import (
	"context"
	"testing"

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
