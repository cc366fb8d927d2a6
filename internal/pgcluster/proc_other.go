//go:build !linux

package pgcluster

import (
	"os"
	"syscall"
)

// account is who runs the server. Outside Linux the server runs as
// the current user, without switching credentials.
type account struct {
	uid, gid int
	asRoot   bool
}

func serverAccount() (account, error) { return account{}, nil }

func (a account) sysProcAttr(server bool) *syscall.SysProcAttr { return nil }

func (a account) chown(path string) error { return nil }

// processAlive reports every process as alive, so that no other process's
// cluster directory is ever removed as stale.
func processAlive(pid int) bool { return true }

var (
	sigFast      = os.Interrupt
	sigImmediate = os.Kill
)
