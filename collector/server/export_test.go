package server

import (
	"context"
	"testing"
)

// SetBacktestStarted makes every Backtest call run fn once it holds the
// one-at-a-time slot, until the test ends.
func SetBacktestStarted(t testing.TB, fn func(context.Context)) {
	backtestStarted.Store(&fn)
	t.Cleanup(func() { backtestStarted.Store(nil) })
}
