package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ardRemoteManagement is written by Apple Remote Desktop's kickstart tool;
// it holds "enabled" while Remote Management is on.
const ardRemoteManagement = "Library/Application Support/Apple/Remote Desktop/RemoteManagement.launchd"

// readRemoteLogin on macOS: Screen Sharing (a VNC server on 5900) and
// Remote Login (sshd) are launchd services, loaded only while enabled in
// System Settings; Remote Management (ARD) also runs the screen-sharing
// server. Sessions come from utmp through `who`. Screen-sharing sessions
// are not in utmp: they show as catalogued connections instead.
func readRemoteLogin(ctx context.Context, env *Env, ra *pb.RemoteAccess) error {
	var errs []error
	launchd := func(label string) bool {
		_, err := env.Command(ctx, "launchctl", "print", "system/"+label)
		loaded, ok := launchdServiceLoaded(err)
		if !ok {
			errs = append(errs, fmt.Errorf("launchctl print system/%s: %w", label, err))
		}
		return loaded
	}
	if launchd("com.apple.screensharing") {
		ra.ScreenSharingEnabled, ra.VncEnabled = true, true
	}
	if b, err := env.ReadFile(ardRemoteManagement); err == nil && bytes.Contains(b, []byte("enabled")) {
		ra.ScreenSharingEnabled, ra.VncEnabled = true, true
	}
	ra.SshEnabled = launchd("com.openssh.sshd")
	out, err := env.Command(ctx, "who")
	if err != nil {
		errs = append(errs, fmt.Errorf("who: %w", err))
	} else {
		ra.Sessions = parseWho(out, env.Now(), time.Local)
	}
	return errors.Join(errs...)
}
