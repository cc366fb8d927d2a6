package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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
