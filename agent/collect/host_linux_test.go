package collect

import (
	"context"
	"os"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestHardwareIdentityDMI(t *testing.T) {
	tests := []struct {
		name          string
		env           *Env
		model, serial string
	}{
		{"laptop", fixtureEnv(t, "laptop", january), "Dell Inc. Latitude 7440", "7H3KQ74"},
		{"firmware placeholders", fixtureEnv(t, "plain", january),
			"To Be Filled By O.E.M. To Be Filled By O.E.M.", "To Be Filled By O.E.M."},
		{"no DMI (VM or unprivileged container)", rootEnv(t.TempDir(), january), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, serial := hardwareIdentity(context.Background(), tt.env)
			if model != tt.model || serial != tt.serial {
				t.Errorf("got (%q, %q), want (%q, %q)", model, serial, tt.model, tt.serial)
			}
		})
	}
}

func TestCollectHostHashesSerial(t *testing.T) {
	tests := []struct {
		root, model, sha string
		bootTime         int64
		wantErr          string
	}{
		{root: "laptop", model: "Dell Inc. Latitude 7440",
			sha: "9c360b62ed6d45f539b1990ee23e0716b2b19c37e46de6e0d9335ad0b1204fd0", bootTime: 1767225600},
		// No /proc/stat: the boot time is missing, the identity is not.
		{root: "plain", model: "To Be Filled By O.E.M. To Be Filled By O.E.M.", wantErr: "boot time"},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			env := fixtureEnv(t, tt.root, january)
			r := &pb.Report{}
			err := collectHost(env.Context(context.Background()), env, r)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			hostname, _ := os.Hostname()
			h := r.GetHost()
			if h.GetHardwareModel() != tt.model || h.GetSerialSha256() != tt.sha || h.GetHostname() != hostname {
				t.Errorf("got model %q serial %q hostname %q, want %q %q %q",
					h.GetHardwareModel(), h.GetSerialSha256(), h.GetHostname(), tt.model, tt.sha, hostname)
			}
			if got := h.GetBootTime().GetSeconds(); got != tt.bootTime {
				t.Errorf("boot time %d, want %d", got, tt.bootTime)
			}
		})
	}
}
