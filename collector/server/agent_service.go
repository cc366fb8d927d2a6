package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

type agentService struct {
	pb.UnimplementedAgentServiceServer
	s *Server
}

// deviceCertValidity is how long a device certificate lasts; onboarding
// monitoring is bounded, and a revoked device is refused before expiry anyway.
const deviceCertValidity = 365 * 24 * time.Hour

func (a *agentService) Enroll(ctx context.Context, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	resp, err := a.enroll(ctx, req)
	a.s.metrics.enrolled(err)
	return resp, err
}

func (a *agentService) enroll(ctx context.Context, req *pb.EnrollRequest) (*pb.EnrollResponse, error) {
	s := a.s
	if req.GetToken() == "" {
		return nil, status.Error(codes.InvalidArgument, "token: missing (create one with `farmwatch tokens create --hire ID`)")
	}
	if len(req.GetToken()) > 256 {
		return nil, status.Error(codes.InvalidArgument, "token: over 256 bytes")
	}
	now := s.cfg.Now()
	ip := clientAddr(ctx)
	// The token first, in a read: a token that does not exist, or is spent
	// or expired, costs no CSR parsing, no signature and no write.
	var unusable error
	err := s.store.View(func(tx *store.Tx) error {
		rec, err := tx.Token(req.GetToken())
		if err != nil {
			return err
		}
		unusable = tokenUsable(tx, rec, now)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.enrollRefused(ip, status.Error(codes.Unauthenticated, "enrollment token is not valid"))
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "enroll: read token: %v", err)
	}
	if err := s.limiter.tokenAttempt(sha256.Sum256([]byte(req.GetToken()))); err != nil {
		return nil, err
	}
	if len(req.GetCsrPem()) > 16<<10 || len(req.GetHostname()) > 255 || len(req.GetOs()) > 64 || len(req.GetAgentVersion()) > 64 {
		return nil, status.Error(codes.InvalidArgument, "enrollment request: a field is over its size limit")
	}
	if unusable != nil {
		return nil, s.enrollRefused(ip, unusable)
	}
	deviceID, err := newDeviceID()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "device id: %v", err)
	}
	s.csrsSigned.Add(1)
	certPEM, err := s.ca.SignCSR(req.GetCsrPem(), deviceID, deviceCertValidity)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr_pem: %v", err)
	}
	var hireID string
	err = s.store.Update(func(tx *store.Tx) error {
		// Again in the write: another call may have spent the token since.
		rec, err := tx.Token(req.GetToken())
		if err != nil {
			return err
		}
		if err := tokenUsable(tx, rec, now); err != nil {
			return err
		}
		hireID = rec.HireID
		rec.UsedAt = now
		rec.DeviceID = deviceID
		if err := tx.PutToken(req.GetToken(), rec); err != nil {
			return err
		}
		return tx.PutDevice(&pb.Device{
			Id: deviceID, HireId: rec.HireID, Hostname: req.GetHostname(), Os: req.GetOs(),
			AgentVersion: req.GetAgentVersion(), EnrolledAt: timestamppb.New(now),
		})
	})
	if err != nil {
		if status.Code(err) == codes.Unauthenticated {
			return nil, s.enrollRefused(ip, err)
		}
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, status.Errorf(codes.Internal, "enroll: %v", err)
	}
	s.log.Info("device enrolled", "device", deviceID, "hire", hireID, "hostname", req.GetHostname(), "from", ip)
	return &pb.EnrollResponse{
		DeviceId: deviceID, CertificatePem: certPEM, CaPem: s.ca.PEM, HireId: hireID,
		ReportIntervalSeconds: uint32(s.cfg.ReportInterval / time.Second),
	}, nil
}

// tokenUsable says why an existing token cannot enroll a device now, if it
// cannot.
func tokenUsable(tx *store.Tx, rec store.TokenRecord, now time.Time) error {
	if !rec.RevokedAt.IsZero() {
		return status.Errorf(codes.Unauthenticated, "enrollment token was revoked at %s by %s; ask IT for a new one",
			rec.RevokedAt.UTC().Format(time.RFC3339), rec.RevokedBy)
	}
	if !rec.UsedAt.IsZero() {
		return status.Errorf(codes.Unauthenticated, "enrollment token was already used at %s; create a new one", rec.UsedAt.UTC().Format(time.RFC3339))
	}
	if now.After(rec.ExpiresAt) {
		return status.Errorf(codes.Unauthenticated, "enrollment token expired at %s; create a new one", rec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	h, err := tx.Hire(rec.HireID)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "the token's hire %q no longer exists", rec.HireID)
	}
	if ended, day := monitoringEnded(h, now); ended {
		return status.Errorf(codes.FailedPrecondition, "monitoring of hire %s ended on %s: nothing to enroll", h.GetId(), day)
	}
	return nil
}

// enrollRefused counts a failed enrollment against the client address and
// returns the answer: the refusal itself, or, while the address is backing
// off after many failures, a request to wait (logged once, when the backoff
// starts, not for every failure).
func (s *Server) enrollRefused(ip netip.Addr, refusal error) error {
	if status.Code(refusal) != codes.Unauthenticated {
		return refusal // not a token that failed: nothing to count
	}
	n, backingOff, until, started := s.limiter.enrollFailed(ip)
	if backingOff {
		return status.Errorf(codes.ResourceExhausted, "%s; %d failed enrollments from %s within %s: wait until %s before the next attempt",
			status.Convert(refusal).Message(), n, ip, s.limiter.cfg.BadTokenWindow, until.UTC().Format(time.RFC3339))
	}
	if started {
		s.log.Warn("failed enrollments from one address: its failures back off (valid tokens are still served)",
			"from", ip, "failures", n, "window", s.limiter.cfg.BadTokenWindow, "until", until)
	}
	return refusal
}

// CSRsSigned is how many certificate requests the collector has set out to
// sign since it started: one per enrollment with a usable token.
func (s *Server) CSRsSigned() uint64 { return s.csrsSigned.Load() }

func (a *agentService) Report(ctx context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	s := a.s
	id := identityFrom(ctx)
	if len(req.GetReports()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "reports: empty batch")
	}
	if len(req.GetReports()) > s.limits.MaxBatch {
		return nil, s.metrics.reject(RejectBatchTooLarge, len(req.GetReports()),
			status.Errorf(codes.InvalidArgument, "reports: %d in one batch, limit %d", len(req.GetReports()), s.limits.MaxBatch))
	}
	now := s.cfg.Now()
	for i, r := range req.GetReports() {
		if err := s.limits.ValidateReport(r, now); err != nil {
			return nil, s.metrics.reject(RejectInvalidReport, len(req.GetReports()),
				status.Errorf(codes.InvalidArgument, "reports[%d] (seq %d): %v", i, r.GetSeq(), err))
		}
	}
	ip := clientAddr(ctx)
	loc := Locate(s.geo, ip)
	stored := make([]*pb.StoredReport, 0, len(req.GetReports()))
	for _, r := range req.GetReports() {
		stored = append(stored, &pb.StoredReport{
			Report: r, ReceivedAt: timestamppb.New(now), PublicIp: ip.String(), Location: loc,
			Peers: LocatePeers(s.geo, r),
		})
	}
	// Whether the device may report is decided by the store's writer, on the
	// device record it reads for the write: no read here, and no window
	// between the check and the write for a revocation to slip through.
	res, err := s.store.IngestAdmitted(id.Name, stored, func(tx *store.Tx, dev *pb.Device) error {
		if dev.GetRevokedAt() != nil {
			return status.Errorf(codes.PermissionDenied, "device %s was revoked at %s: its reports are refused",
				id.Name, dev.GetRevokedAt().AsTime().UTC().Format(time.RFC3339))
		}
		hire, err := tx.HireShared(dev.GetHireId())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return status.Errorf(codes.Internal, "read hire: %v", err)
		}
		if ended, day := monitoringEnded(hire, now); ended {
			return status.Errorf(codes.FailedPrecondition, "monitoring of hire %s ended on %s: the agent stops and can be removed", hire.GetId(), day)
		}
		return nil
	})
	if err != nil {
		n := len(stored)
		if st, ok := status.FromError(err); ok { // from the admission check above
			reason := RejectUnavailable
			switch st.Code() {
			case codes.PermissionDenied:
				reason = RejectDeviceRevoked
			case codes.FailedPrecondition:
				reason = RejectMonitoringEnded
			}
			return nil, s.metrics.reject(reason, n, err)
		}
		var jump *store.SeqJumpError
		if errors.As(err, &jump) {
			return nil, s.metrics.reject(RejectSeqJump, n, status.Errorf(codes.InvalidArgument, "reports: %v; nothing from this batch was stored", jump))
		}
		if over := (*store.OverBudgetError)(nil); errors.As(err, &over) {
			return nil, s.metrics.reject(RejectOverBudget, n, status.Errorf(codes.ResourceExhausted, "%v; nothing from this batch was stored, keep it and retry then", over))
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.metrics.reject(RejectNotEnrolled, n, status.Errorf(codes.PermissionDenied, "device %s is not enrolled here (deleted): re-enroll with a new token", id.Name))
		}
		if errors.Is(err, store.ErrClosed) {
			return nil, s.metrics.reject(RejectUnavailable, n, status.Error(codes.Unavailable, "collector is shutting down; retry"))
		}
		return nil, s.metrics.reject(RejectUnavailable, n, status.Errorf(codes.Unavailable, "store: %v; nothing from this batch was acknowledged, retry", err))
	}
	s.metrics.stored(res)
	return &pb.ReportResponse{
		Acknowledged: res.Acknowledged, Duplicates: res.Duplicates,
		ServerTimeUnixMs:      s.cfg.Now().UnixMilli(),
		ReportIntervalSeconds: uint32(s.cfg.ReportInterval / time.Second),
	}, nil
}

// Locate geolocates the address a report came from; r may be nil (no
// databases), which leaves only the special-range classification.
func Locate(r *geo.Resolver, ip netip.Addr) *pb.IPLocation {
	if !ip.IsValid() {
		return nil
	}
	if r == nil {
		return &pb.IPLocation{Range: geo.Classify(ip)}
	}
	return toIPLocation(r.Lookup(ip))
}

// LocatePeers geolocates the remote ends of a report's remote-access
// connections, once per address, leaving out loopback and private ones.
func LocatePeers(r *geo.Resolver, rep *pb.Report) []*pb.PeerLocation {
	var out []*pb.PeerLocation
	seen := map[string]bool{}
	for _, t := range rep.GetRemoteAccess().GetTools() {
		for _, c := range t.GetConnections() {
			ip, err := netip.ParseAddr(c.GetRemoteAddress())
			if err != nil || seen[ip.String()] {
				continue
			}
			seen[ip.String()] = true
			loc := Locate(r, ip.Unmap())
			if loc.GetRange() != "" {
				continue // loopback, private: not a place
			}
			out = append(out, &pb.PeerLocation{Ip: ip.String(), ToolId: t.GetToolId(), Location: loc})
		}
	}
	return out
}

func toIPLocation(l geo.Location) *pb.IPLocation {
	return &pb.IPLocation{
		Country: l.Country, Region: l.Region, City: l.City, Latitude: l.Latitude, Longitude: l.Longitude,
		AccuracyKm: l.AccuracyKM, TimeZone: l.TimeZone, Asn: l.ASN, AsOrg: l.ASOrg,
		Geolocatable: l.Geolocatable, Range: l.Range, Anonymizer: l.Anonymizer,
	}
}

func newDeviceID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "d-" + hex.EncodeToString(b), nil
}

// NewToken makes an enrollment token: 128 random bits.
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return "fwt_" + hex.EncodeToString(b), nil
}

// monitoringEnded tells whether the hire's onboarding period is over: the
// end date is inclusive and read generously (the whole day everywhere on
// Earth), so no agent stops early.
func monitoringEnded(h *pb.Hire, now time.Time) (bool, string) {
	d := h.GetEndDate()
	if d == "" {
		return false, ""
	}
	end, err := time.Parse("2006-01-02", d)
	if err != nil {
		return false, ""
	}
	return now.After(end.Add(24*time.Hour + 14*time.Hour)), d
}
