package uplink

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// An identity keeps its collector list across a save and a load; one
// written before there were lists (a "collector" alone) has that one
// collector as its list.
func TestIdentityCollectors(t *testing.T) {
	dir := t.TempDir()
	id := &Identity{DeviceID: "d-1", HireID: "h-1", Collector: "a.example.com:7443",
		Collectors: []string{"a.example.com:7443", "b.example.com:7443"},
		CertPEM:    []byte("cert"), KeyPEM: []byte("key"), CAPEM: []byte("ca")}
	if err := id.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example.com:7443", "b.example.com:7443"}; !reflect.DeepEqual(got.Targets(), want) {
		t.Errorf("targets %q, want %q", got.Targets(), want)
	}

	old := `{"device_id": "d-1", "hire_id": "h-1", "collector": "c.example.com:7443"}`
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err = LoadIdentity(dir); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c.example.com:7443"}; !reflect.DeepEqual(got.Targets(), want) {
		t.Errorf("targets of an identity without a list %q, want %q", got.Targets(), want)
	}

	none := &Identity{DeviceID: "d-1", CertPEM: []byte("cert"), KeyPEM: []byte("key"), CAPEM: []byte("ca")}
	if _, err := Dial(none); err == nil || !strings.Contains(err.Error(), "names no collector") {
		t.Errorf("dial with no collector: %v", err)
	}
}
