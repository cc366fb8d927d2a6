package collect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/host"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() { register("host", 5*time.Second, collectHost) }

// collectHost: identity of the machine. The serial is hashed on the laptop.
func collectHost(ctx context.Context, env *Env, r *pb.Report) error {
	info, err := host.InfoWithContext(ctx)
	if err != nil && info == nil {
		return err
	}
	h := &pb.Host{
		Hostname: info.Hostname, Os: info.OS, Platform: info.Platform,
		PlatformVersion: info.PlatformVersion, KernelVersion: info.KernelVersion,
		Arch: runtime.GOARCH,
	}
	if info.BootTime > 0 {
		h.BootTime = timestamppb.New(time.Unix(int64(info.BootTime), 0))
	}
	if info.VirtualizationRole == "guest" {
		h.Virtualization = info.VirtualizationSystem
	}
	model, serial := hardwareIdentity(ctx, env)
	h.HardwareModel = model
	if serial != "" && !placeholderSerial(serial) {
		h.SerialSha256 = hashSerial(serial)
	}
	r.Host = h
	return nil
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
