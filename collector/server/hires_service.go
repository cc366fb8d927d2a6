package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/hires"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ImportHires receives a file of hires in chunks (one message of a whole
// 100,000-row file would pass any sane message limit) and stores them in one
// transaction: every hire or none.
func (a *adminService) ImportHires(stream grpc.ClientStreamingServer[pb.ImportHiresRequest, pb.ImportHiresResponse]) error {
	var list []*pb.Hire
	var update bool
	var columns []string
	seen := map[string]int{}
	var resolver hires.Resolver
	for first := true; ; first = false {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if first {
			update, columns = req.GetUpdate(), req.GetColumns()
		}
		for _, h := range req.GetHires() {
			i := len(list) + 1
			if i > hires.MaxRows {
				return status.Errorf(codes.InvalidArgument, "more than %d hires; split the file; nothing was stored", hires.MaxRows)
			}
			if err := resolver.Resolve(h); err != nil {
				return status.Errorf(codes.InvalidArgument, "hire %d (%s): %v; nothing was stored", i, h.GetId(), err)
			}
			if j, dup := seen[h.GetId()]; dup {
				return status.Errorf(codes.InvalidArgument, "hire %d: id %q repeats hire %d; nothing was stored", i, h.GetId(), j)
			}
			seen[h.GetId()] = i
			list = append(list, h)
		}
	}
	if len(list) == 0 {
		return status.Error(codes.InvalidArgument, "hires: none given")
	}
	if len(columns) == 0 {
		columns = hires.Columns
	}
	ctx := stream.Context()
	now, who := a.s.cfg.Now(), identityFrom(ctx).Name
	resp := &pb.ImportHiresResponse{}
	err := a.s.store.Update(func(tx *store.Tx) error {
		for i, h := range list {
			old, err := tx.Hire(h.GetId())
			if errors.Is(err, store.ErrNotFound) {
				h.CreatedAt = timestamppb.New(now)
				if err := linkApplicant(tx, h); err != nil {
					return err
				}
				if err := tx.PutHire(h); err != nil {
					return err
				}
				resp.Added++
				if err := tx.Audit(now, who, "hire.add", h.GetId(), "imported"); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if !update {
				return status.Errorf(codes.AlreadyExists, "hire %d: id %q already exists (import --update changes existing hires); nothing was stored", i+1, h.GetId())
			}
			next := mergeColumns(old, h, columns)
			if err := resolver.Resolve(next); err != nil {
				return status.Errorf(codes.InvalidArgument, "hire %d (%s): %v; nothing was stored", i+1, h.GetId(), err)
			}
			changed := hireChanges(old, next)
			if len(changed) == 0 {
				resp.Unchanged++
				continue
			}
			if err := linkApplicant(tx, next); err != nil {
				return err
			}
			next.CreatedAt, next.UpdatedAt = old.GetCreatedAt(), timestamppb.New(now)
			if err := tx.PutHire(next); err != nil {
				return err
			}
			resp.Updated++
			if err := tx.Audit(now, who, "hire.update", h.GetId(), strings.Join(changed, "; ")+"; import --update"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return asStatus(err)
	}
	return stream.SendAndClose(resp)
}

// mergeColumns is old with the fields of the file's columns taken from h.
func mergeColumns(old, h *pb.Hire, columns []string) *pb.Hire {
	next := &pb.Hire{Id: old.GetId(), Name: old.GetName(), Email: old.GetEmail(), ClaimedHome: old.GetClaimedHome(),
		ShippingAddress: old.GetShippingAddress(), Phone: old.GetPhone(), Institutions: old.GetInstitutions(),
		StartDate: old.GetStartDate(), EndDate: old.GetEndDate(), ApplicantId: old.GetApplicantId()}
	for _, c := range columns {
		switch c {
		case "name":
			next.Name = h.GetName()
		case "email":
			next.Email = h.GetEmail()
		case "claimed_home":
			next.ClaimedHome = h.GetClaimedHome()
		case "shipping_address":
			next.ShippingAddress = h.GetShippingAddress()
		case "phone":
			next.Phone = h.GetPhone()
		case "institutions":
			next.Institutions = h.GetInstitutions()
		case "start_date":
			next.StartDate = h.GetStartDate()
		case "end_date":
			next.EndDate = h.GetEndDate()
		case "applicant_id":
			next.ApplicantId = h.GetApplicantId()
		}
	}
	return next
}

// hireChanges lists every field that differs between two versions of a
// hire, for the audit trail. Personal data (name, contact, addresses,
// places, institutions) is named but not copied: the trail may be exported
// to an append-only store that an erasure cannot reach. Dates are copied.
func hireChanges(old, h *pb.Hire) []string {
	var out []string
	for _, f := range []struct {
		name     string
		was, now string
		personal bool
	}{
		{"name", old.GetName(), h.GetName(), true},
		{"email", old.GetEmail(), h.GetEmail(), true},
		{"claimed_home", old.GetClaimedHome(), h.GetClaimedHome(), true},
		{"shipping_address", old.GetShippingAddress(), h.GetShippingAddress(), true},
		{"phone", old.GetPhone(), h.GetPhone(), true},
		{"institutions", strings.Join(old.GetInstitutions(), ";"), strings.Join(h.GetInstitutions(), ";"), true},
		{"start_date", old.GetStartDate(), h.GetStartDate(), false},
		{"end_date", old.GetEndDate(), h.GetEndDate(), false},
		{"applicant_id", old.GetApplicantId(), h.GetApplicantId(), false},
	} {
		switch {
		case f.was == f.now:
		case f.personal:
			out = append(out, f.name+" changed")
		default:
			out = append(out, fmt.Sprintf("%s %s -> %s", f.name, orNone(f.was), orNone(f.now)))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// DeleteHire erases a hire for an erasure request: the hire, their devices
// and everything keyed to them, in one transaction; then the freed pages of
// the file are overwritten, so the bytes do not linger in the bbolt file.
// One audit line remains: the hire id, who, when, the counts and the note.
func (a *adminService) DeleteHire(ctx context.Context, req *pb.DeleteHireRequest) (*pb.DeleteHireResponse, error) {
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say which erasure request this answers (it goes in the audit trail)")
	}
	now, who := a.s.cfg.Now(), identityFrom(ctx).Name
	resp := &pb.DeleteHireResponse{HireId: req.GetId()}
	err := a.s.store.Update(func(tx *store.Tx) error {
		if !tx.HireExists(req.GetId()) {
			return status.Errorf(codes.NotFound, "hire %q does not exist", req.GetId())
		}
		if err := unlinkApplicant(tx, req.GetId()); err != nil {
			return err
		}
		devices := tx.DevicesOfHire(req.GetId())
		fps, err := tx.DeleteFingerprints(devices)
		if err != nil {
			return err
		}
		if _, err := a.s.engine.Forget(tx, devices, now); err != nil {
			return fmt.Errorf("take the devices out of their clusters: %w", err)
		}
		n, err := tx.EraseHire(req.GetId())
		if err != nil {
			return err
		}
		resp.Devices, resp.Reports, resp.Alerts, resp.Tokens = uint32(n.Devices), uint32(n.Reports), uint32(n.Alerts), uint32(n.Tokens)
		resp.ClusterMemberships, resp.Fingerprints = uint32(n.ClusterMemberships), uint32(fps)
		resp.AuditEntriesRedacted, resp.AlertsScrubbed = uint32(n.AuditRedacted), uint32(n.AlertsScrubbed)
		detail := fmt.Sprintf("erased: %d devices, %d reports, %d alerts, %d tokens, %d cluster memberships, %d fingerprints; %d audit entries, %d alerts and %d devices' evidence scrubbed; %s",
			n.Devices, n.Reports, n.Alerts, n.Tokens, n.ClusterMemberships, fps, n.AuditRedacted, n.AlertsScrubbed, n.StatesScrubbed, req.GetNote())
		return tx.Audit(now, who, "hire.delete", req.GetId(), detail)
	})
	if err != nil {
		return nil, asStatus(err)
	}
	if pages, err := a.s.store.ScrubFreePages(30 * time.Second); errors.Is(err, store.ErrNotBbolt) {
		a.s.log.Info("hire erased; the database reclaims the space of the deleted rows itself", "hire", req.GetId())
	} else if err != nil {
		a.s.log.Error("hire erased, but its freed pages still hold the bytes", "hire", req.GetId(), "err", err)
		return nil, status.Errorf(codes.Internal, "hire %s erased, but overwriting the freed pages of the store failed (%v): the erased bytes stay in free pages of the store file until they are reused", req.GetId(), err)
	} else {
		a.s.log.Info("hire erased", "hire", req.GetId(), "free_pages_zeroed", pages)
	}
	return resp, nil
}

// listAudit reads one page of the audit trail.
func listAudit(tx *store.Tx, req *pb.ListAuditRequest, limit int) ([]*pb.AuditEntry, error) {
	var since time.Time
	if req.GetSince() != nil {
		since = req.GetSince().AsTime()
	}
	return tx.AuditPage(store.AuditQuery{Subject: req.GetSubject(), Limit: limit, Since: since,
		After: req.GetAfter(), OldestFirst: req.GetOldestFirst()})
}
