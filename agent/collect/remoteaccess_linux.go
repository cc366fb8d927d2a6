package collect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shirou/gopsutil/v4/common"
)

// On Linux the catalog needs only each process's comm and executable path:
// two reads per PID, where gopsutil's process objects also parse stat,
// status and /proc/stat for every process. On a laptop with hundreds of
// processes this walk is most of the agent's CPU time.
func init() { listProcesses = procfsProcesses }

// procfsProcesses lists processes from /proc (or the fixture's HOST_PROC in
// the context, as gopsutil would read it).
func procfsProcesses(ctx context.Context) ([]Proc, error) {
	root := "/proc"
	if m, ok := ctx.Value(common.EnvKey).(common.EnvMap); ok && m[common.HostProcEnvKey] != "" {
		root = m[common.HostProcEnvKey]
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	out := make([]Proc, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil {
			continue // exited
		}
		// Kernel threads and other users' processes have no readable exe
		// for a non-root agent: the comm still matches the catalog.
		exe, _ := os.Readlink(filepath.Join(dir, "exe"))
		out = append(out, Proc{PID: int32(pid), Name: string(bytes.TrimSuffix(comm, []byte("\n"))), Exe: exe})
		if len(out)%64 == 0 && ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}
