package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func (a *adminService) RevokeDevice(ctx context.Context, req *pb.RevokeDeviceRequest) (*pb.Device, error) {
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say why the device is revoked (it goes in the audit trail)")
	}
	now := a.s.cfg.Now()
	who := identityFrom(ctx).Name
	var out *pb.Device
	err := a.s.store.Update(func(tx *store.Tx) error {
		d, err := tx.Device(req.GetId())
		if err != nil {
			return err
		}
		if d.GetRevokedAt() != nil {
			return status.Errorf(codes.FailedPrecondition, "device %s was already revoked at %s by %s", d.GetId(),
				d.GetRevokedAt().AsTime().UTC().Format(time.RFC3339), d.GetRevokedBy())
		}
		d.RevokedAt, d.RevokedBy, d.RevokeNote = timestamppb.New(now), who, req.GetNote()
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		out = d
		return tx.Audit(now, who, "device.revoke", d.GetId(), req.GetNote())
	})
	return out, asStatus(err)
}

var adminNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func (a *adminService) IssueAdmin(ctx context.Context, req *pb.IssueAdminRequest) (*pb.IssueAdminResponse, error) {
	if !adminNamePattern.MatchString(req.GetName()) {
		return nil, status.Errorf(codes.InvalidArgument, "name %q: use 1-64 letters, digits, '.', '_', '@' or '-'", req.GetName())
	}
	if req.GetRole() != pki.RoleViewer && req.GetRole() != pki.RoleReviewer {
		return nil, status.Errorf(codes.InvalidArgument, "role %q: want viewer or reviewer", req.GetRole())
	}
	days := req.GetValidDays()
	if days == 0 {
		days = 365
	}
	if days > 825 {
		return nil, status.Error(codes.InvalidArgument, "valid_days: at most 825")
	}
	block, _ := pem.Decode(req.GetCsrPem())
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, status.Error(codes.InvalidArgument, "csr_pem: not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil, status.Error(codes.InvalidArgument, "csr_pem: not a valid, self-signed certificate request")
	}
	validity := time.Duration(days) * 24 * time.Hour
	certPEM, err := a.s.ca.SignRole(csr.PublicKey, req.GetName(), req.GetRole(), validity)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	now := a.s.cfg.Now()
	err = a.s.store.Update(func(tx *store.Tx) error {
		return tx.Audit(now, identityFrom(ctx).Name, "admin.issue", req.GetName(), fmt.Sprintf("role %s for %d days", req.GetRole(), days))
	})
	if err != nil {
		return nil, asStatus(err)
	}
	return &pb.IssueAdminResponse{CertificatePem: certPEM, CaPem: a.s.ca.PEM, ExpiresAt: timestamppb.New(now.Add(validity))}, nil
}

// backupChunk is the size of one streamed piece of a backup.
const backupChunk = 1 << 20

func (a *adminService) Backup(_ *pb.BackupRequest, stream pb.AdminService_BackupServer) error {
	w := &chunkWriter{stream: stream, buf: make([]byte, 0, backupChunk)}
	err := a.s.store.Backup(func(size int64, write func(io.Writer) error) error {
		w.size = uint64(size)
		if err := write(w); err != nil {
			return err
		}
		return w.flush()
	})
	if err != nil {
		return status.Errorf(codes.Internal, "backup: %v", err)
	}
	return nil
}

type chunkWriter struct {
	stream pb.AdminService_BackupServer
	buf    []byte
	size   uint64
	sent   bool
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(backupChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == backupChunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 && w.sent {
		return nil
	}
	c := &pb.BackupChunk{Data: w.buf}
	if !w.sent {
		c.Size = w.size
		w.sent = true
	}
	if err := w.stream.Send(c); err != nil {
		return err
	}
	w.buf = w.buf[:0]
	return nil
}
