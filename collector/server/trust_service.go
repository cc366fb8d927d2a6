package server

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
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
	issuer := identityFrom(ctx)
	if roleRank[req.GetRole()] > roleRank[issuer.Role] {
		return nil, status.Errorf(codes.PermissionDenied, "role %s is above your own (%s): a certificate cannot grant more than its issuer holds",
			req.GetRole(), issuer.Role)
	}
	days := req.GetValidDays()
	if days > 825 {
		return nil, status.Error(codes.InvalidArgument, "valid_days: at most 825")
	}
	now := a.s.cfg.Now()
	notAfter := now.AddDate(0, 0, int(cmp.Or(days, 365)))
	if !issuer.NotAfter.IsZero() && notAfter.After(issuer.NotAfter) {
		if days != 0 {
			return nil, status.Errorf(codes.FailedPrecondition,
				"valid_days %d: the certificate would outlive yours, which expires at %s; give at most %d days, or 0 for \"until mine expires\"",
				days, issuer.NotAfter.UTC().Format(time.RFC3339), int(issuer.NotAfter.Sub(now)/(24*time.Hour)))
		}
		notAfter = issuer.NotAfter // the default is capped, not refused
	}
	block, _ := pem.Decode(req.GetCsrPem())
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, status.Error(codes.InvalidArgument, "csr_pem: not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return nil, status.Error(codes.InvalidArgument, "csr_pem: not a valid, self-signed certificate request")
	}
	certPEM, err := a.s.ca.SignRoleUntil(csr.PublicKey, req.GetName(), req.GetRole(), notAfter)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	serial := store.NormalizeSerial(cert.SerialNumber.Text(16))
	err = a.s.store.Update(func(tx *store.Tx) error {
		if err := tx.PutAdminCert(&pb.AdminCertificate{
			Serial: serial, Name: req.GetName(), Role: req.GetRole(), IssuedBy: issuer.Name,
			IssuedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(cert.NotAfter),
		}); err != nil {
			return err
		}
		return tx.Audit(now, issuer.Name, "admin.issue", req.GetName(), fmt.Sprintf("role %s, serial %s, until %s",
			req.GetRole(), serial, cert.NotAfter.UTC().Format(time.RFC3339)))
	})
	if err != nil {
		return nil, asStatus(err)
	}
	return &pb.IssueAdminResponse{CertificatePem: certPEM, CaPem: a.s.ca.PEM, ExpiresAt: timestamppb.New(cert.NotAfter), Serial: serial}, nil
}

func (a *adminService) ListAdmins(ctx context.Context, _ *pb.ListAdminsRequest) (*pb.ListAdminsResponse, error) {
	var out []*pb.AdminCertificate
	err := a.s.store.View(func(tx *store.Tx) (err error) { out, err = tx.AdminCerts(); return })
	return &pb.ListAdminsResponse{Certificates: out}, asStatus(err)
}

// RevokeAdmin revokes an admin certificate by serial: the auth interceptor
// refuses it from its next call on.
func (a *adminService) RevokeAdmin(ctx context.Context, req *pb.RevokeAdminRequest) (*pb.AdminCertificate, error) {
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say why the certificate is revoked (it goes in the audit trail)")
	}
	serial := store.NormalizeSerial(req.GetSerial())
	if serial == "" {
		return nil, status.Error(codes.InvalidArgument, "serial: missing (see `farmwatch admin list`)")
	}
	now := a.s.cfg.Now()
	who := identityFrom(ctx).Name
	var out *pb.AdminCertificate
	err := a.s.store.Update(func(tx *store.Tx) error {
		c, err := tx.AdminCert(serial)
		if errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.NotFound, "serial %s: this collector issued no admin certificate with it (see `farmwatch admin list`)", serial)
		}
		if err != nil {
			return err
		}
		if c.GetRevokedAt() != nil {
			return status.Errorf(codes.FailedPrecondition, "admin certificate %s (%s) was already revoked at %s by %s", serial, c.GetName(),
				c.GetRevokedAt().AsTime().UTC().Format(time.RFC3339), c.GetRevokedBy())
		}
		c.RevokedAt, c.RevokedBy, c.RevokeNote = timestamppb.New(now), who, req.GetNote()
		if err := tx.PutAdminCert(c); err != nil {
			return err
		}
		out = c
		return tx.Audit(now, who, "admin.revoke", c.GetName(), fmt.Sprintf("serial %s (%s): %s", serial, c.GetRole(), req.GetNote()))
	})
	return out, asStatus(err)
}

func (a *adminService) ListTokens(ctx context.Context, req *pb.ListTokensRequest) (*pb.ListTokensResponse, error) {
	now := a.s.cfg.Now()
	out := []*pb.TokenInfo{}
	err := a.s.store.View(func(tx *store.Tx) error {
		entries, err := tx.Tokens()
		for _, e := range entries {
			if req.GetHireId() == "" || e.Record.HireID == req.GetHireId() {
				out = append(out, tokenInfo(e, now))
			}
		}
		return err
	})
	return &pb.ListTokensResponse{Tokens: out}, asStatus(err)
}

// RevokeToken makes an unused token worthless at once: enrollment checks
// the record, so the next attempt with it is refused.
func (a *adminService) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.TokenInfo, error) {
	now := a.s.cfg.Now()
	who := identityFrom(ctx).Name
	var out *pb.TokenInfo
	err := a.s.store.Update(func(tx *store.Tx) error {
		e, err := tx.TokenByID(req.GetId())
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return status.Errorf(codes.NotFound, "%v (see `farmwatch tokens list`)", err)
			}
			return status.Error(codes.InvalidArgument, err.Error())
		}
		switch rec := e.Record; {
		case !rec.RevokedAt.IsZero():
			return status.Errorf(codes.FailedPrecondition, "token %s was already revoked at %s by %s", e.ID(), rec.RevokedAt.UTC().Format(time.RFC3339), rec.RevokedBy)
		case !rec.UsedAt.IsZero():
			return status.Errorf(codes.FailedPrecondition, "token %s was used at %s to enroll device %s: revoke the device instead (`farmwatch devices revoke %s --note TEXT`)",
				e.ID(), rec.UsedAt.UTC().Format(time.RFC3339), rec.DeviceID, rec.DeviceID)
		}
		e.Record.RevokedAt, e.Record.RevokedBy = now, who
		if err := tx.PutTokenEntry(e); err != nil {
			return err
		}
		out = tokenInfo(e, now)
		detail := "token " + e.ID()
		if note := strings.TrimSpace(req.GetNote()); note != "" {
			detail += ": " + note
		}
		return tx.Audit(now, who, "token.revoke", e.Record.HireID, detail)
	})
	return out, asStatus(err)
}

// tokenInfo is what a reviewer may see of a token: never the token.
func tokenInfo(e store.TokenEntry, now time.Time) *pb.TokenInfo {
	rec := e.Record
	ti := &pb.TokenInfo{Id: e.ID(), HireId: rec.HireID, CreatedAt: timestamppb.New(rec.CreatedAt),
		ExpiresAt: timestamppb.New(rec.ExpiresAt), DeviceId: rec.DeviceID, RevokedBy: rec.RevokedBy}
	if !rec.UsedAt.IsZero() {
		ti.UsedAt = timestamppb.New(rec.UsedAt)
	}
	if !rec.RevokedAt.IsZero() {
		ti.RevokedAt = timestamppb.New(rec.RevokedAt)
	}
	switch {
	case !rec.UsedAt.IsZero():
		ti.State = "used"
	case !rec.RevokedAt.IsZero():
		ti.State = "revoked"
	case now.After(rec.ExpiresAt):
		ti.State = "expired"
	default:
		ti.State = "unused"
	}
	return ti
}
