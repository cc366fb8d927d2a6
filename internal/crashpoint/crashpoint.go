//go:build crashpoint

// Package crashpoint stops the process at a named place so that a test can
// kill it exactly there. It exists only in binaries built with
// `-tags crashpoint`; in every other build Reach is an empty function.
//
// A test arms one point through the environment of the process it starts:
//
//	FARMWATCH_CRASHPOINT=ingest.before-commit   the point
//	FARMWATCH_CRASHPOINT_SKIP=N                 pass it N times first
//	FARMWATCH_CRASHPOINT_REACHED=FILE           created when it stops there
//
// The goroutine that reaches the armed point blocks for good; the rest of
// the process runs on until the test kills it.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
)

var (
	armed   = os.Getenv("FARMWATCH_CRASHPOINT")
	skip    = skipCount()
	reached = os.Getenv("FARMWATCH_CRASHPOINT_REACHED")
	passes  atomic.Int64
)

func skipCount() int64 {
	n, err := strconv.ParseInt(os.Getenv("FARMWATCH_CRASHPOINT_SKIP"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Reach stops the calling goroutine for good if name is the armed point and
// it has been passed the requested number of times.
func Reach(name string) {
	if name != armed || passes.Add(1) <= skip {
		return
	}
	fmt.Fprintf(os.Stderr, "crashpoint: stopped at %s after %d passes\n", name, skip)
	if reached != "" {
		if err := os.WriteFile(reached, []byte(name+"\n"), 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "crashpoint: %v\n", err)
		}
	}
	select {}
}
