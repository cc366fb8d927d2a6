package dist

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSignedPackages signs the .deb and .rpm with a throwaway OpenPGP key and verifies them as a
// machine that trusts only that key would: gpg over the .deb's debsign member, rpmkeys -K for the
// .rpm. A .deb whose data changed after signing must fail the check.
func TestSignedPackages(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("needs gpg (scripts/ci-packages.sh installs gnupg)")
	}
	home := t.TempDir()
	gpg := func(stdin string, args ...string) (string, error) {
		c := exec.Command("gpg", append([]string{"--homedir", home, "--batch"}, args...)...)
		c.Stdin = strings.NewReader(stdin)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	const pass = "throwaway passphrase"
	if out, err := gpg("Key-Type: RSA\nKey-Length: 2048\nName-Real: farmwatch test signer\n"+
		"Name-Email: signer@farmwatch.example\nExpire-Date: 1d\nPassphrase: "+pass+"\n%commit\n", "--gen-key"); err != nil {
		t.Fatalf("gpg --gen-key: %v\n%s", err, out)
	}
	secret, err := gpg("", "--pinentry-mode", "loopback", "--passphrase", pass, "--armor", "--export-secret-keys")
	if err != nil || !strings.Contains(secret, "PRIVATE KEY") {
		t.Fatalf("export secret key: %v\n%s", err, secret)
	}
	public, err := gpg("", "--armor", "--export")
	if err != nil {
		t.Fatalf("export public key: %v\n%s", err, public)
	}
	keyFile := filepath.Join(home, "signing-key.asc")
	pubFile := filepath.Join(home, "signing-key.pub.asc")
	os.WriteFile(keyFile, []byte(secret), 0o600)
	os.WriteFile(pubFile, []byte(public), 0o644)

	bin := fakeBinariesIn(t, t.TempDir())
	out := t.TempDir()
	err = Build(Options{Root: "../../..", Out: out, Version: "v1.2.0", Epoch: epoch, BinDir: bin,
		Docs: filepath.Join(bin, "docs"), Platforms: []string{"linux/amd64"}, Formats: []string{"deb", "rpm"},
		Signing: Signing{KeyFile: keyFile, Passphrase: pass}})
	if err != nil {
		t.Fatal(err)
	}

	deb := filepath.Join(out, "farmwatch-agent_1.2.0-1_amd64.deb")
	members := arMembers(t, deb)
	sig, ok := members["_gpgorigin"]
	if !ok {
		t.Fatalf("%s has no _gpgorigin signature member (members: %v)", deb, keys(members))
	}
	var signed bytes.Buffer
	for _, m := range []string{"debian-binary", "control.tar.gz", "data.tar.gz"} {
		signed.Write(members[m])
	}
	verify := func(data []byte) (string, error) {
		sigFile := filepath.Join(home, "origin.sig")
		dataFile := filepath.Join(home, "origin.data")
		os.WriteFile(sigFile, sig, 0o644)
		os.WriteFile(dataFile, data, 0o644)
		return gpg("", "--verify", sigFile, dataFile)
	}
	if msg, err := verify(signed.Bytes()); err != nil || !strings.Contains(msg, "Good signature") {
		t.Errorf("gpg --verify of the .deb's _gpgorigin: %v\n%s", err, msg)
	}
	// The check docs/DEPLOY.md gives IT, verbatim.
	work := t.TempDir()
	debCopy := filepath.Join(work, "farmwatch_VERSION-1_amd64.deb")
	data, _ := os.ReadFile(filepath.Join(out, "farmwatch_1.2.0-1_amd64.deb"))
	os.WriteFile(debCopy, data, 0o644)
	doc := exec.Command("sh", "-c", "ar x farmwatch_VERSION-1_amd64.deb && cat debian-binary control.tar.gz data.tar.gz | gpg --verify _gpgorigin -")
	doc.Dir, doc.Env = work, append(os.Environ(), "GNUPGHOME="+home)
	if msg, err := doc.CombinedOutput(); err != nil || !strings.Contains(string(msg), "Good signature") {
		t.Errorf("DEPLOY.md's check of a signed .deb: %v\n%s", err, msg)
	}
	tampered := bytes.Clone(signed.Bytes())
	tampered[len(tampered)-1] ^= 1
	if msg, err := verify(tampered); err == nil {
		t.Errorf("a .deb changed after signing verifies:\n%s", msg)
	}

	rpm := filepath.Join(out, "farmwatch-agent-1.2.0-1.x86_64.rpm")
	if _, err := exec.LookPath("rpmkeys"); err != nil {
		t.Logf("rpmkeys not installed: .rpm signature not checked (scripts/ci-packages.sh installs rpm)")
		return
	}
	db := t.TempDir()
	if out, err := exec.Command("rpmkeys", "--dbpath", db, "--import", pubFile).CombinedOutput(); err != nil {
		t.Fatalf("rpmkeys --import: %v\n%s", err, out)
	}
	check, err := exec.Command("rpmkeys", "--dbpath", db, "-K", rpm).CombinedOutput()
	if err != nil || !strings.Contains(string(check), "signatures OK") {
		t.Errorf("rpmkeys -K %s: %v\n%s", rpm, err, check)
	}
	t.Logf("rpmkeys -K: %s", strings.TrimSpace(string(check)))
}

// arMembers reads the members of an ar archive (a .deb).
func arMembers(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatalf("%s is not an ar archive", path)
	}
	members := map[string][]byte{}
	for b = b[8:]; len(b) >= 60; {
		name := strings.TrimSuffix(strings.TrimSpace(string(b[0:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(b[48:58])))
		if err != nil || 60+size > len(b) {
			t.Fatalf("%s: bad ar header %q", path, b[:60])
		}
		members[name] = b[60 : 60+size]
		b = b[60+size+size%2:]
	}
	return members
}

func keys(m map[string][]byte) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return fmt.Sprint(ks)
}
