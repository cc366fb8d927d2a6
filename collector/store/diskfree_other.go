//go:build !linux && !darwin && !windows

package store

import (
	"errors"
	"fmt"
	"runtime"
)

// freeBytes is not implemented here: a backup is refused rather than risk
// filling the disk the store lives on.
func freeBytes(string) (uint64, error) {
	return 0, fmt.Errorf("free disk space is not implemented on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
