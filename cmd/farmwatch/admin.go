package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/adminconn"
	"github.com/farmwatch/farmwatch/collector/pki"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Admin certificates for reviewers and IT"}
	var name, role, out, pemDir, profileServer string
	var days uint32
	issue := &cobra.Command{
		Use:   "issue --name NAME --role viewer|reviewer [--out FILE] [--profile-server HOST:PORT] [--days N]",
		Short: "Issue an admin certificate: viewers read, reviewers also change alerts, hires and devices",
		Long: `Issue an admin certificate. The key is made here and never leaves this
machine: the collector signs a certificate request. Writes a client profile
to --out (default NAME.profile.yaml, mode 0600): the collector address, its
CA, the certificate and the key in one file. Give it to the person over a
private channel; they run ` + "`farmwatch profile import FILE`" + `. --profile-server
is the address written into it (default: the address this command used,
which on the collector host is a loopback address). --pem-dir DIR also
writes NAME.pem, NAME-key.pem and ca.pem there, for --cert, --key and --ca.

A certificate never outlives the one that issues it, nor has a higher
role: --days 0 (the default) means 365 days or until your own certificate
expires, if sooner.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || role == "" {
				return usagef("--name and --role are required")
			}
			opts, err := connOptions()
			if err != nil {
				return err
			}
			addr, err := opts.Addr()
			if err != nil {
				return err
			}
			keyPEM, csrPEM, err := pki.NewKeyAndCSR(name)
			if err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.IssueAdminResponse, error) {
				return c.IssueAdmin(ctx, &pb.IssueAdminRequest{Name: name, Role: role, CsrPem: csrPEM, ValidDays: days})
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s certificate for %s, serial %s, valid until %s\n", role, name, resp.GetSerial(), ts(resp.GetExpiresAt()))
			if pemDir != "" {
				if err := writePEMs(pemDir, name, keyPEM, resp); err != nil {
					return err
				}
				fmt.Fprintf(w, "  --cert %s --key %s --ca %s\n", filepath.Join(pemDir, name+".pem"),
					filepath.Join(pemDir, name+"-key.pem"), filepath.Join(pemDir, "ca.pem"))
			}
			if out == "" {
				out = name + ".profile.yaml"
			}
			server := cmp.Or(profileServer, addr)
			p, err := adminconn.NewProfile(server, resp.GetCaPem(), resp.GetCertificatePem(), keyPEM)
			if err != nil {
				return fmt.Errorf("profile: %w", err)
			}
			if err := adminconn.WriteProfile(out, p); err != nil {
				return fmt.Errorf("write profile %s: %w", out, err)
			}
			fmt.Fprintf(w, "profile for %s written to %s (mode 0600; it holds the key): they run `farmwatch profile import %s`\n",
				server, out, filepath.Base(out))
			if host, _, err := net.SplitHostPort(server); profileServer == "" && err == nil && isLoopback(host) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the profile names %s, which only this host can reach: "+
					"for a reviewer elsewhere, issue with --profile-server HOST:PORT (a name the server certificate carries: serve --tls-san)\n", server)
			}
			return nil
		},
	}
	issue.Flags().StringVar(&name, "name", "", "who the certificate is for (shown in the audit trail)")
	issue.Flags().StringVar(&role, "role", "", "viewer or reviewer (at most your own)")
	issue.Flags().StringVar(&out, "out", "", "client profile file to write (default NAME.profile.yaml)")
	issue.Flags().StringVar(&profileServer, "profile-server", "", "collector address written into the profile (default: the one this command used)")
	issue.Flags().StringVar(&pemDir, "pem-dir", "", "also write NAME.pem, NAME-key.pem and ca.pem into this directory")
	issue.Flags().Uint32Var(&days, "days", 0, "validity in days (default 365, or until your own certificate expires)")
	cmd.AddCommand(issue, newAdminListCmd(), newAdminRevokeCmd())
	return cmd
}

func writePEMs(dir, name string, keyPEM []byte, resp *pb.IssueAdminResponse) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{filepath.Join(dir, name+"-key.pem"), keyPEM, 0o600},
		{filepath.Join(dir, name+".pem"), resp.GetCertificatePem(), 0o644},
		{filepath.Join(dir, "ca.pem"), resp.GetCaPem(), 0o644},
	}
	for _, f := range files {
		if err := pki.WriteFileAtomic(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

func newAdminListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Admin certificates this collector issued, with their serials and revocations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			resp, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.ListAdminsResponse, error) {
				return c.ListAdmins(ctx, &pb.ListAdminsRequest{})
			})
			if err != nil {
				return err
			}
			if output == "json" {
				return printListJSON(cmd.OutOrStdout(), resp, "certificates", len(resp.GetCertificates()))
			}
			tw := newTable(cmd.OutOrStdout(), "SERIAL", "NAME", "ROLE", "ISSUED BY", "ISSUED", "EXPIRES", "STATE")
			for _, c := range resp.GetCertificates() {
				state := "valid"
				switch {
				case c.GetRevokedAt() != nil:
					state = "revoked " + ts(c.GetRevokedAt()) + " by " + c.GetRevokedBy()
				case c.GetExpiresAt().AsTime().Before(time.Now()):
					state = "expired"
				}
				row(tw, c.GetSerial(), c.GetName(), c.GetRole(), c.GetIssuedBy(), ts(c.GetIssuedAt()), ts(c.GetExpiresAt()), state)
			}
			return tw.Flush()
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newAdminRevokeCmd() *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "revoke SERIAL --note TEXT",
		Short: "Revoke an admin certificate: its next call is refused (reviewer role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: say why (it goes in the audit trail)")
			}
			c, err := call(cmd, func(ctx context.Context, c pb.AdminServiceClient) (*pb.AdminCertificate, error) {
				return c.RevokeAdmin(ctx, &pb.RevokeAdminRequest{Serial: args[0], Note: note})
			})
			if err != nil {
				return err
			}
			printf(cmd.OutOrStdout(), "revoked admin certificate %s (%s, %s)\n", c.GetSerial(), c.GetName(), c.GetRole())
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (kept in the audit trail)")
	return cmd
}

func newBackupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Take a consistent online copy of the collector's store (reviewer role)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, closeFn, err := adminClient()
			if err != nil {
				return err
			}
			defer closeFn()
			stream, err := client.Backup(cmd.Context(), &pb.BackupRequest{})
			if err != nil {
				return fmt.Errorf("backup: %w", plainStatus(err))
			}
			tmp, err := os.CreateTemp(filepath.Dir(args[0]), ".farmwatch-backup-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			var size, got uint64
			for {
				chunk, err := stream.Recv()
				if err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					tmp.Close()
					return fmt.Errorf("backup: %w; nothing written", plainStatus(err))
				}
				if chunk.GetSize() > 0 {
					size = chunk.GetSize()
				}
				if _, err := tmp.Write(chunk.GetData()); err != nil {
					tmp.Close()
					return err
				}
				got += uint64(len(chunk.GetData()))
			}
			if size != 0 && got != size {
				tmp.Close()
				return fmt.Errorf("backup: got %d of %d bytes; nothing written", got, size)
			}
			if err := tmp.Chmod(0o600); err != nil {
				return err
			}
			if err := tmp.Sync(); err != nil {
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of %d bytes written to %s (a bbolt file: start a collector on a copy of it to restore)\n", got, args[0])
			return nil
		},
	}
}
