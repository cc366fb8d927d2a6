package pgcluster

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// account is who runs the server: PostgreSQL refuses to run as root, so a
// program running as root hands the cluster to the unprivileged account nobody
// (created by every Debian base system).
type account struct {
	uid, gid int
	asRoot   bool // the caller runs as root: switch credentials
}

func serverAccount() (account, error) {
	if os.Geteuid() != 0 {
		return account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return account{}, fmt.Errorf("running as root, which PostgreSQL refuses, and there is no unprivileged account nobody to run it as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return account{}, fmt.Errorf("account nobody has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return account{uid: uid, gid: gid, asRoot: true}, nil
}

// sysProcAttr runs a child as the account and, for the server, ties its
// life to the calling program's: the kernel sends the postmaster SIGQUIT (an
// immediate shutdown) when the caller dies, so a test binary killed
// by a timeout leaves no server running.
func (a account) sysProcAttr(server bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if a.asRoot {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), NoSetGroups: false, Groups: []uint32{}}
	}
	if server {
		attr.Pdeathsig = syscall.SIGQUIT
	}
	return attr
}

func (a account) chown(path string) error {
	if !a.asRoot {
		return nil
	}
	return os.Chown(path, a.uid, a.gid)
}

// processAlive tells whether pid still runs (signal 0 probes without
// signalling).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

var (
	sigFast      os.Signal = syscall.SIGINT  // fast shutdown: roll back, checkpoint, exit
	sigImmediate os.Signal = syscall.SIGQUIT // immediate shutdown: exit now, recover at next start
)
