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
	if serial != "" {
		h.SerialSha256 = hashSerial(serial)
	}
	r.Host = h
	return nil
}

func hashSerial(s string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(s)))
	return hex.EncodeToString(sum[:])
}
