package server

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder is the process holding the lock on path, 0 when unknown.
func lockHolder(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	return parseProcLocks(data, st.Ino)
}

// processCommand is pid's command line, empty when unreadable.
func processCommand(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
