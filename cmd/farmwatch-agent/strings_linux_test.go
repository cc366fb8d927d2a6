package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/farmwatch/farmwatch/agent/collect"
	"github.com/farmwatch/farmwatch/agent/spool"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestCollectJSONShowsWhatIsSent: on a root whose hostname and USB
// descriptors are Latin-1 and GBK, `collect --json` prints the report (it
// used to fail: JSON, like protobuf, refuses a string that is not UTF-8),
// with the very strings the spool then holds and the collector receives.
func TestCollectJSONShowsWhatIsSent(t *testing.T) {
	root := filepath.Join("..", "..", "agent", "collect", "testdata", "linux", "legacy-encodings")
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"collect", "--json", "--root", root, "--only", "host,usb"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("collect --json: %v", err)
	}
	shown := &pb.Report{}
	if err := protojson.Unmarshal(out.Bytes(), shown); err != nil {
		t.Fatalf("collect --json printed no report: %v\n%s", err, out.String())
	}
	if got, want := shown.GetHost().GetHostname(), `K\xf6ln-laptop`; got != want {
		t.Errorf("hostname %q, want %q", got, want)
	}
	if len(shown.GetPeripherals().GetUsb()) != 2 || shown.GetPeripherals().GetUsb()[1].GetManufacturer() != `K\xf6ln Elektronik` {
		t.Errorf("USB devices %v", shown.GetPeripherals().GetUsb())
	}

	// What the spool keeps of the same collection: the same strings.
	env := collect.HostEnv()
	env.Root = root
	sp, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Add(collect.Collect(context.Background(), env, collect.Options{Only: []string{"host", "usb"}})); err != nil {
		t.Fatal(err)
	}
	p, err := sp.Pending(1)
	if err != nil || len(p) != 1 {
		t.Fatalf("spooled: %v %v", p, err)
	}
	if p[0].GetHost().GetHostname() != shown.GetHost().GetHostname() {
		t.Errorf("spooled hostname %q, shown %q", p[0].GetHost().GetHostname(), shown.GetHost().GetHostname())
	}
	for i, u := range p[0].GetPeripherals().GetUsb() {
		s := shown.GetPeripherals().GetUsb()[i]
		if u.GetManufacturer() != s.GetManufacturer() || u.GetProduct() != s.GetProduct() {
			t.Errorf("USB %d spooled %q/%q, shown %q/%q", i, u.GetManufacturer(), u.GetProduct(), s.GetManufacturer(), s.GetProduct())
		}
	}
}
