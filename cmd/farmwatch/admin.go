package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/farmwatch/farmwatch/collector/pki"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newAdminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Admin certificates for reviewers and IT"}
	var name, role, out string
	var days uint32
	issue := &cobra.Command{
		Use:   "issue --name NAME --role viewer|reviewer [--out DIR]",
		Short: "Issue an admin certificate: viewers read, reviewers also change alerts, hires and devices",
		Long: `Issue an admin certificate. The key is made here and never leaves this
machine: the collector signs a certificate request. Writes NAME.pem,
NAME-key.pem (mode 0600) and ca.pem into --out; give them to the person with
--cert, --key and --ca (and --server).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || role == "" {
				return usagef("--name and --role are required")
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
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			files := []struct {
				path string
				data []byte
				mode os.FileMode
			}{
				{filepath.Join(out, name+"-key.pem"), keyPEM, 0o600},
				{filepath.Join(out, name+".pem"), resp.GetCertificatePem(), 0o644},
				{filepath.Join(out, "ca.pem"), resp.GetCaPem(), 0o644},
			}
			for _, f := range files {
				if err := pki.WriteFileAtomic(f.path, f.data, f.mode); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s certificate for %s, valid until %s:\n  --cert %s --key %s --ca %s\n",
				role, name, ts(resp.GetExpiresAt()), files[1].path, files[0].path, files[2].path)
			return nil
		},
	}
	issue.Flags().StringVar(&name, "name", "", "who the certificate is for (shown in the audit trail)")
	issue.Flags().StringVar(&role, "role", "", "viewer or reviewer")
	issue.Flags().StringVar(&out, "out", ".", "directory to write the key and certificates to")
	issue.Flags().Uint32Var(&days, "days", 365, "validity in days")
	cmd.AddCommand(issue)
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
