package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/pki"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Identity is who is calling, from the verified client certificate.
type Identity struct {
	Name string // device id or admin name
	Role string
	// Serial (lowercase hex) and NotAfter of the certificate: an admin's
	// is checked against revocations, and bounds what it may issue.
	Serial   string
	NotAfter time.Time
}

type identityKey struct{}

func identityFrom(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// Methods open to callers without a certificate.
var anonymousMethods = map[string]bool{
	pb.AgentService_Enroll_FullMethodName: true,
	"/grpc.health.v1.Health/Check":        true,
	"/grpc.health.v1.Health/List":         true,
}

// Admin methods that change state need the reviewer role.
var reviewerMethods = map[string]bool{
	pb.AdminService_AddHires_FullMethodName:         true,
	pb.AdminService_CreateToken_FullMethodName:      true,
	pb.AdminService_AckAlert_FullMethodName:         true,
	pb.AdminService_ResolveAlert_FullMethodName:     true,
	pb.AdminService_UpdateHire_FullMethodName:       true,
	pb.AdminService_ImportHires_FullMethodName:      true,
	pb.AdminService_ImportApplicants_FullMethodName: true,
	pb.AdminService_DeleteHire_FullMethodName:       true,
	pb.AdminService_DeleteApplicant_FullMethodName:  true,
	pb.AdminService_RevokeDevice_FullMethodName:     true,
	pb.AdminService_IssueAdmin_FullMethodName:       true,
	pb.AdminService_Backup_FullMethodName:           true,
	pb.AdminService_RevokeToken_FullMethodName:      true,
	pb.AdminService_RevokeAdmin_FullMethodName:      true,
	pb.AdminService_TestWebhook_FullMethodName:      true,
	pb.AdminService_RetryWebhook_FullMethodName:     true,
}

// gRPC reflection (v1 and v1alpha) lists the services and their messages:
// for admins' tools (grpcurl), never for agents or certificate-less callers.
var reflectionMethods = map[string]bool{
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// roleRank orders the admin roles: an issuer may mint its own role or a
// lower one, never a higher.
var roleRank = map[string]int{pki.RoleViewer: 1, pki.RoleReviewer: 2}

func (s *Server) authInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := s.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamAuthInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := s.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// authorize checks the caller's certificate against the method's role and
// returns a context carrying the caller's identity.
func (s *Server) authorize(ctx context.Context, method string) (context.Context, error) {
	if anonymousMethods[method] {
		return ctx, nil
	}
	id, err := peerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(method, "/farmwatch.v1.AgentService/"):
		if id.Role != pki.RoleDevice {
			return nil, status.Errorf(codes.PermissionDenied, "%s calls need a device certificate, got role %q", method, id.Role)
		}
	case strings.HasPrefix(method, "/farmwatch.v1.AdminService/"), reflectionMethods[method]:
		if id.Role != pki.RoleViewer && id.Role != pki.RoleReviewer {
			return nil, status.Errorf(codes.PermissionDenied, "%s needs an admin certificate (viewer or reviewer), got role %q", method, id.Role)
		}
		if err := s.checkNotRevoked(id); err != nil {
			return nil, err
		}
		if reviewerMethods[method] && id.Role != pki.RoleReviewer {
			return nil, status.Errorf(codes.PermissionDenied, "%s needs the reviewer role; %s is a %s", method, id.Name, id.Role)
		}
	default:
		return nil, status.Errorf(codes.PermissionDenied, "unknown method %s", method)
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

func peerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, status.Error(codes.Unauthenticated, "no peer information")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return Identity{}, status.Error(codes.Unauthenticated, "a client certificate issued by this collector is required (enroll the agent first, or use an admin certificate)")
	}
	leaf := ti.State.VerifiedChains[0][0]
	return Identity{Name: leaf.Subject.CommonName, Role: pki.Role(leaf),
		Serial: store.NormalizeSerial(leaf.SerialNumber.Text(16)), NotAfter: leaf.NotAfter}, nil
}

// checkNotRevoked refuses an admin certificate whose serial was revoked: a
// read of one key on every admin call, so a revocation holds from the next
// call on, with no cache to wait out.
func (s *Server) checkNotRevoked(id Identity) error {
	var revoked *pb.AdminCertificate
	err := s.store.View(func(tx *store.Tx) error {
		c, err := tx.AdminCert(id.Serial)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.GetRevokedAt() != nil {
			revoked = c
		}
		return nil
	})
	if err != nil {
		return status.Errorf(codes.Internal, "check admin certificate %s: %v", id.Serial, err)
	}
	if revoked != nil {
		return status.Errorf(codes.Unauthenticated, "admin certificate %s (%s) was revoked at %s by %s: ask a reviewer for a new one",
			id.Serial, revoked.GetName(), revoked.GetRevokedAt().AsTime().UTC().Format(time.RFC3339), revoked.GetRevokedBy())
	}
	return nil
}

func (s *Server) recoverInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, fmt.Sprintf("internal error in %s", info.FullMethod))
		}
	}()
	return handler(ctx, req)
}
