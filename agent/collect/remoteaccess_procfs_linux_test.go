package collect

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
)

// procfsProcesses agrees with gopsutil on what the catalog needs, on this
// machine's /proc.
func TestProcfsProcessesMatchesGopsutil(t *testing.T) {
	ctx := context.Background()
	fast, err := procfsProcesses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self := int32(os.Getpid())
	i := slices.IndexFunc(fast, func(p Proc) bool { return p.PID == self })
	if i < 0 {
		t.Fatalf("own pid %d not listed among %d processes", self, len(fast))
	}
	exe, _ := os.Executable()
	if fast[i].Exe != exe {
		t.Errorf("own exe %q, want %q", fast[i].Exe, exe)
	}
	// A name can change between the two walks: kernel workers rename
	// themselves as they take work, and a process may exec or call
	// prctl(PR_SET_NAME). Only a disagreement seen the same way in three
	// rounds of both walks counts.
	var bad map[int32]string
	for round := 0; round < 3; round++ {
		if round > 0 {
			if fast, err = procfsProcesses(ctx); err != nil {
				t.Fatal(err)
			}
		}
		slow, err := gopsutilProcesses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := disagreements(fast, slow)
		if round == 0 {
			bad = seen
			continue
		}
		for pid, d := range bad {
			if seen[pid] != d {
				delete(bad, pid)
			}
		}
	}
	for pid, d := range bad {
		t.Errorf("pid %d: %s", pid, d)
	}
}

// disagreements lists, by pid, the processes the two walks describe
// differently.
func disagreements(fast, slow []Proc) map[int32]string {
	out := map[int32]string{}
	for _, g := range slow {
		j := slices.IndexFunc(fast, func(p Proc) bool { return p.PID == g.PID })
		if j < 0 {
			continue // started or ended between the walks
		}
		// gopsutil completes a 15-byte comm from cmdline; the catalog's
		// prefix rule covers the truncated name. A process that exits (or
		// execs) between the two walks can lose its exe link in one of
		// them: only a disagreement on two readable links counts.
		f := fast[j]
		exeDiffers := f.Exe != g.Exe && f.Exe != "" && g.Exe != ""
		if (f.Name != g.Name && !(len(f.Name) == 15 && len(g.Name) > 15)) || exeDiffers {
			out[g.PID] = fmt.Sprintf("procfs %+v, gopsutil %+v", f, g)
		}
	}
	return out
}
