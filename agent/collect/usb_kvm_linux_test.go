package collect

import (
	"context"
	"testing"
)

func TestListUSBSysfsNanoKVMAndWiggler(t *testing.T) {
	env := fixtureEnv(t, "usb-sysfs_debian12_nanokvm-mousewiggler", january)
	devs, err := listUSB(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	p, err := usbReport(devs)
	if err != nil {
		t.Fatal(err)
	}
	want := "16c0:27da wagiminator/MouseWiggler jiggler high\n3346:1009 sipeed/NanoKVM ip-kvm high"
	if got := summarizeUSB(p.GetUsb()); got != want {
		t.Errorf("report\n%s\nwant\n%s", got, want)
	}
}
