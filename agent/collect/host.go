package collect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/host"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("host", 5*time.Second, collectHost) }

// collectHost: identity of the machine. The serial is hashed on the laptop.
// Each field is read on its own: host.Info gives up on the first field it
// cannot read (boot time, host ID, process count), which would lose the
// hostname and serial that identify the laptop.
func collectHost(ctx context.Context, env *Env, r *pb.Report) error {
	var errs []error
	h := &pb.Host{Os: runtime.GOOS, Arch: runtime.GOARCH}
	var err error
	if h.Hostname, err = hostName(env); err != nil {
		errs = append(errs, fmt.Errorf("hostname: %w", err))
	}
	if h.Platform, h.PlatformVersion, err = platformInfo(ctx, env); err != nil {
		errs = append(errs, fmt.Errorf("platform: %w", err))
	}
	if h.KernelVersion, err = host.KernelVersionWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("kernel version: %w", err))
	}
	if boot, err := host.BootTimeWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("boot time: %w", err))
	} else if boot > 0 {
		h.BootTime = timestamppb.New(time.Unix(int64(boot), 0))
	}
	// Not implemented on every OS, and only a hint: no error when absent.
	if system, role, err := host.VirtualizationWithContext(ctx); err == nil && role == "guest" {
		h.Virtualization = system
	}
	model, serial := hardwareIdentity(ctx, env)
	h.HardwareModel = model
	if serial != "" && !placeholderSerial(serial) {
		h.SerialSha256 = hashSerial(serial)
	}
	r.Host = h
	return errors.Join(errs...)
}

// placeholderSerials are what firmware reports when no serial was written:
// hashed, they would make unrelated machines look like one.
var placeholderSerials = []string{"", "0", "none", "n/a", "not specified", "not applicable",
	"default string", "to be filled by o.e.m.", "system serial number", "0123456789", "serial number",
	"chassis serial number", "invalid"}

func placeholderSerial(s string) bool {
	n := strings.ToLower(strings.TrimSpace(s))
	for _, p := range placeholderSerials {
		if n == p {
			return true
		}
	}
	return strings.Trim(n, "0") == "" || strings.Trim(n, "f") == ""
}

func hashSerial(s string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(s)))
	return hex.EncodeToString(sum[:])
}
