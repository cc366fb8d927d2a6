package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestRemoteAccessGopsutilProcfs runs the real gopsutil readers on a fake
// /proc (HOST_PROC via Env.Context). gopsutil checks that a PID exists by
// signalling it on this machine, so the fixture's AnyDesk is PID 1 and the
// benign shell added here takes the test's own PID.
func TestRemoteAccessGopsutilProcfs(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "linux", "procfs"), root)
	self := os.Getpid()
	if self != 1 {
		pid := fmt.Sprint(self)
		writeFiles(t, filepath.Join(root, "proc", pid), map[string]string{
			"comm":    "bash\n",
			"cmdline": "-bash\x00",
			"stat": pid + " (bash) S 1 " + pid + " " + pid +
				" 34816 " + pid + " 4194560 2731 0 0 0 3 1 0 0 20 0 1 0 5120 9142272 1296 18446744073709551615 1 1 0 0 0 0 65536 3670020 1266777851 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			"status": "Name:\tbash\nState:\tS (sleeping)\nTgid:\t" + pid + "\nPid:\t" + pid + "\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n",
			"exe":    "->/usr/bin/bash",
			"fd/0":   "->/dev/pts/0",
			"fd/3":   "->socket:[99999]",
		})
	}

	env := rootEnv(root, january)
	procs, err := gopsutilProcesses(env.Context(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Proc]bool{}
	for _, p := range procs {
		seen[p] = true
	}
	wantProcs := []Proc{{PID: 1, Name: "anydesk", Exe: "/usr/share/anydesk/anydesk"}}
	if self != 1 {
		wantProcs = append(wantProcs, Proc{PID: int32(self), Name: "bash", Exe: "/usr/bin/bash"})
	}
	for _, p := range wantProcs {
		if !seen[p] {
			t.Errorf("gopsutil did not list %+v from the fixture; got %+v", p, procs)
		}
	}

	r := Collect(context.Background(), env, Options{Only: []string{"remote_access"}})
	if len(r.GetErrors()) != 0 {
		t.Fatalf("errors: %v", r.GetErrors())
	}
	want := []*pb.ToolMatch{{
		ToolId: "anydesk", Name: "AnyDesk", Process: "anydesk", Path: "/usr/share/anydesk/anydesk", Pid: 1,
		Listening: []*pb.Socket{
			{Protocol: "tcp", Address: "0.0.0.0", Port: 7070},
			{Protocol: "udp", Address: "0.0.0.0", Port: 50001},
		},
		Connections: []*pb.Connection{{Protocol: "tcp", LocalAddress: "192.168.1.58", LocalPort: 41458,
			RemoteAddress: "175.45.176.5", RemotePort: 7070, State: "established"}},
	}}
	assertTools(t, r.GetRemoteAccess().GetTools(), want)

	b, err := protojson.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bash", "140.82.112.3", "50412"} {
		if strings.Contains(string(b), s) {
			t.Errorf("report mentions %q, which belongs to no catalogued process", s)
		}
	}
}
