package main

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestCollectJSONShowsFailedCollector runs `collect --json` in process on an
// empty root, where the locale collector cannot find a time zone, and checks
// the failure and its reason are in the JSON an employee or IT would read.
func TestCollectJSONShowsFailedCollector(t *testing.T) {
	for _, k := range []string{"TZ", "LC_ALL", "LC_MESSAGES", "LANG"} {
		t.Setenv(k, "")
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"collect", "--json", "--root", t.TempDir(), "--only", "locale"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	// protojson varies its spacing on purpose: compare without it.
	js := strings.Join(strings.Fields(out.String()), "")
	for _, s := range []string{`"errors":[`, `"collector":"locale"`, "noIANAtimezone", `"collectors":[`, `"name":"locale"`} {
		if !strings.Contains(js, s) {
			t.Errorf("JSON lacks %s:\n%s", s, js)
		}
	}
	r := &pb.Report{}
	if err := protojson.Unmarshal(out.Bytes(), r); err != nil {
		t.Fatal(err)
	}
	runs := r.GetHealth().GetCollectors()
	if len(runs) != 1 || runs[0].GetName() != "locale" || runs[0].GetOk() {
		t.Errorf("health.collectors = %v, want one failed locale run", runs)
	}
	if len(r.GetErrors()) != 1 || r.GetErrors()[0].GetCollector() != "locale" {
		t.Errorf("errors = %v, want the locale collector's", r.GetErrors())
	}
}
