package server

import (
	"testing"
	"time"
)

// SetBackupStallLimit shortens how long a backup waits for a client that
// reads nothing. Call it before starting the collector, so that it is
// restored after the collector has stopped.
func SetBackupStallLimit(t testing.TB, d time.Duration) {
	old := backupStallLimit
	backupStallLimit = d
	t.Cleanup(func() { backupStallLimit = old })
}
