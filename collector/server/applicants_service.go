package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/applicants"
	"github.com/farmwatch/farmwatch/collector/store"
	"github.com/farmwatch/farmwatch/geo"
	"github.com/farmwatch/farmwatch/internal/crashpoint"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// maxReportedRows bounds the bad rows an import failure lists; the count
// names the rest.
const maxReportedRows = 1000

// screenBatch is how many applicants' alerts one transaction writes.
const screenBatch = 1000

// applicantScreening is the collector's side of applicant screening: the
// in-memory index of every stored applicant, and one import at a time.
type applicantScreening struct {
	env analysis.ApplicantEnv
	cur atomic.Pointer[analysis.ApplicantIndex]
	// importMu serialises imports: an id checked as new while staging stays
	// new until the import is applied. It guards version.
	importMu   sync.Mutex
	lastImport int64
	// version is the store's ApplicantsVersion the index was built at: on
	// a shared store other collectors import and erase applicants too, and
	// the index is rebuilt when it moved (syncApplicants).
	version uint64
}

func (sc *applicantScreening) index() *analysis.ApplicantIndex { return sc.cur.Load() }

// syncApplicants rebuilds the screening index from a shared store when the
// applicants changed since it was built, by this collector or another: an
// applicant another collector imported is screened against, one it erased
// is not. The caller holds importMu. On bbolt this collector is the only
// writer and its index is always in step.
func (s *Server) syncApplicants() error {
	sc := s.screening
	if !s.store.Shared() {
		return nil
	}
	// The version is read before the applicants: a change committed in
	// between makes the next sync rebuild again, never skip one.
	v, err := s.store.ApplicantsVersion()
	if err != nil {
		return fmt.Errorf("read the applicants' version: %w", err)
	}
	if v == sc.version && sc.index() != nil {
		return nil
	}
	x := analysis.NewApplicantIndex(sc.env)
	err = s.store.View(func(tx *store.Tx) error {
		return tx.ForEachApplicant(func(a *pb.Applicant) error {
			x.Put(a)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load applicants: %w", err)
	}
	sc.cur.Store(x)
	sc.version = v
	return nil
}

// loadApplicants builds the index from the store and rolls forward the
// imports that committed but did not finish (a crash or a stop mid-import).
func (s *Server) loadApplicants() error {
	env := analysis.ApplicantEnv{Config: func() *analysis.Config { c := s.engine.Config(); return &c }}
	if s.geo != nil {
		env.Locate = func(ip netip.Addr) geo.Location { return s.geo.Lookup(ip) }
	}
	s.screening = &applicantScreening{env: env}
	start := time.Now()
	if s.store.Shared() {
		if err := s.syncApplicants(); err != nil {
			return err
		}
	} else {
		x := analysis.NewApplicantIndex(env)
		err := s.store.View(func(tx *store.Tx) error {
			return tx.ForEachApplicant(func(a *pb.Applicant) error {
				x.Put(a)
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("load applicants: %w", err)
		}
		s.screening.cur.Store(x)
	}
	if n := s.screening.index().Len(); n > 0 {
		s.log.Info("applicants loaded for screening", "applicants", n, "took", time.Since(start).Round(time.Millisecond))
	}
	pending, err := s.store.PendingImports()
	if err != nil {
		return fmt.Errorf("applicant imports: %w", err)
	}
	for _, id := range pending {
		resp, err := s.finishImport(id)
		if err != nil && s.store.Shared() {
			// On a shared store the import may be another collector's, in
			// progress or finished meanwhile: that collector finishes it,
			// and so does the next one to start when it died.
			s.log.Warn("an applicant import committed but not finished could not be rolled forward here; the collector running it, or the next to start, finishes it",
				"import", id, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("roll applicant import %s forward: %w", id, err)
		}
		s.log.Info("rolled a committed applicant import forward", "import", id, "added", resp.GetAdded(),
			"updated", resp.GetUpdated(), "screened", resp.GetScreened(), "alerts", resp.GetAlerts())
	}
	return nil
}

// ImportApplicants receives an import in chunks, normalises and checks every
// row, stages them, and only when every row passed commits, applies and
// screens them: every applicant or none.
func (a *adminService) ImportApplicants(stream grpc.ClientStreamingServer[pb.ImportApplicantsRequest, pb.ImportApplicantsResponse]) error {
	s := a.s
	sc := s.screening
	sc.importMu.Lock()
	defer sc.importMu.Unlock()
	if err := s.syncApplicants(); err != nil {
		return status.Errorf(codes.Unavailable, "%v; nothing was stored", err)
	}
	now := s.cfg.Now()
	// Import ids sort in time order and never repeat, even on a clock step.
	sc.lastImport = max(sc.lastImport+1, now.UnixNano())
	importID := fmt.Sprintf("I%016x", sc.lastImport)
	committed := false
	defer func() {
		if !committed {
			if err := s.store.DiscardImport(importID); err != nil {
				s.log.Error("discard a failed applicant import", "import", importID, "err", err)
			}
		}
	}()

	var update bool
	var format string
	seen := map[string]int{}
	var bad []string
	nbad := 0
	var seq uint64
	// Chunks are received and normalised by one goroutine while this one
	// checks and stages the previous ones: the client keeps sending.
	chunks := make(chan receivedChunk, 4)
	done := make(chan struct{})
	defer close(done)
	go receiveChunks(stream, chunks, done)
	var pending []*pb.Applicant
	stage := func() error {
		if err := s.store.StageApplicants(importID, seq, pending); err != nil {
			return status.Errorf(codes.Internal, "stage applicants: %v; nothing was stored", err)
		}
		seq += uint64(len(pending))
		pending = pending[:0]
		return nil
	}
	for first := true; ; first = false {
		rc, ok := <-chunks
		if !ok {
			break
		}
		if rc.err != nil {
			return rc.err
		}
		req := rc.req
		if first {
			update, format = req.GetUpdate(), req.GetFormat()
			switch applicants.Format(format) {
			case applicants.FormatCSV, applicants.FormatJSONL, applicants.FormatGreenhouse:
			default:
				return status.Errorf(codes.InvalidArgument, "format %q: want csv, jsonl or greenhouse; nothing was stored", format)
			}
		}
		var rowErrs []*applicants.RowError
		err := s.store.View(func(tx *store.Tx) error {
			for i, ap := range req.GetApplicants() {
				line := 0
				if i < len(req.GetLines()) {
					line = int(req.GetLines()[i])
				}
				errs := rc.errs[i]
				if ap.GetId() != "" {
					if prev, dup := seen[ap.GetId()]; dup {
						errs = append(errs, applicants.FieldError{Field: "id", Why: fmt.Sprintf("%q already on line %d", ap.GetId(), prev)})
					} else {
						seen[ap.GetId()] = line
						if !update && tx.ApplicantExists(ap.GetId()) {
							errs = append(errs, applicants.FieldError{Field: "id", Why: fmt.Sprintf("%q already exists (import --update replaces existing applicants)", ap.GetId())})
						}
					}
				}
				if len(errs) > 0 {
					rowErrs = append(rowErrs, &applicants.RowError{Line: line, ID: ap.GetId(), Errs: errs})
					continue
				}
				ap.SourceFormat = format
				if nbad == 0 && len(rowErrs) == 0 {
					pending = append(pending, ap)
				}
			}
			return nil
		})
		if err != nil {
			return asStatus(err)
		}
		for _, e := range rowErrs {
			if nbad++; len(bad) < maxReportedRows {
				bad = append(bad, e.Error())
			}
		}
		if nbad > 0 {
			pending = nil // refused whatever follows: only the errors are still of use
		} else if len(pending) >= stageRows {
			if err := stage(); err != nil {
				return err
			}
		}
	}
	if nbad == 0 && len(pending) > 0 {
		if err := stage(); err != nil {
			return err
		}
	}
	if nbad > 0 {
		msg := fmt.Sprintf("%d bad row(s); nothing was stored:\n%s", nbad, strings.Join(bad, "\n"))
		if nbad > len(bad) {
			msg += fmt.Sprintf("\n... and %d more", nbad-len(bad))
		}
		return status.Error(codes.InvalidArgument, msg)
	}
	if seq == 0 {
		return status.Error(codes.InvalidArgument, "applicants: none given")
	}
	err := s.store.CommitImport(importID, store.ImportMarker{Update: update, Format: format,
		Actor: identityFrom(stream.Context()).Name, At: now, Rows: int(seq)})
	if err != nil {
		return status.Errorf(codes.Internal, "commit the import: %v; nothing was stored", err)
	}
	committed = true
	// A crash from here on is rolled forward when the collector restarts.
	crashpoint.Reach("applicants.after-commit")
	resp, err := s.finishImport(importID)
	if err != nil {
		s.log.Error("applicant import committed but not finished: it is rolled forward at the next start", "import", importID, "err", err)
		return status.Errorf(codes.Internal, "the import committed but did not finish (%v): the collector finishes it when it restarts", err)
	}
	return stream.SendAndClose(resp)
}

// normalizeApplicant discards what an import may not set (the collector's
// own fields) and normalises and checks the rest.
func normalizeApplicant(ap *pb.Applicant) []applicants.FieldError {
	ap.CreatedAt, ap.UpdatedAt, ap.HireId, ap.SourceFormat = nil, nil, "", ""
	return applicants.Normalize(ap)
}

// stageRows is how many rows one staging transaction writes: a few MB, so
// a 100,000-row import commits (and syncs) the staging area 20 times.
const stageRows = 5000

// receivedChunk is one chunk of an import, normalised, or the stream's error.
type receivedChunk struct {
	req  *pb.ImportApplicantsRequest
	errs [][]applicants.FieldError
	err  error
}

// receiveChunks reads and normalises an import's chunks until the stream
// ends (closing out) or the handler is done.
func receiveChunks(stream grpc.ClientStreamingServer[pb.ImportApplicantsRequest, pb.ImportApplicantsResponse], out chan<- receivedChunk, done <-chan struct{}) {
	defer close(out)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		rc := receivedChunk{req: req, err: err}
		if err == nil {
			rc.errs = normalizeAll(req.GetApplicants())
		}
		select {
		case out <- rc:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// normalizeAll normalises a chunk on every core: the gazetteer and the
// phone metadata make it the costliest step of an import.
func normalizeAll(list []*pb.Applicant) [][]applicants.FieldError {
	out := make([][]applicants.FieldError, len(list))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(list); i += workers {
				out[i] = safeNormalize(list[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// safeNormalize is normalizeApplicant on a worker goroutine, where a panic
// would take the whole collector down (the handler's recover does not reach
// it): the row is refused instead, and the panic logged.
func safeNormalize(ap *pb.Applicant) (errs []applicants.FieldError) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("panic normalising an applicant", "applicant", ap.GetId(), "panic", r, "stack", string(debug.Stack()))
			errs = []applicants.FieldError{{Field: "row", Why: "the collector could not normalise it (logged)"}}
		}
	}()
	return normalizeApplicant(ap)
}

// finishImport applies a committed import, screens what it changed, and
// deletes its staging. Every step can run again after a crash.
func (s *Server) finishImport(importID string) (*pb.ImportApplicantsResponse, error) {
	now := s.cfg.Now()
	start := time.Now()
	m, ok, err := s.store.Import(importID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("import %s: no commit marker", importID)
	}
	affected := map[string]struct{}{}
	put := func(list []*pb.Applicant) {
		for _, a := range list {
			for _, id := range s.screening.index().Put(a) {
				affected[id] = struct{}{}
			}
		}
	}
	// Rows applied before a crash were loaded into the index at start, but
	// what they tie to was never screened: index them again for their ties.
	if until := m.Next; m.Phase != store.ImportApply || until > 0 {
		if m.Phase != store.ImportApply {
			until = 0 // every row
		}
		for from := uint64(0); ; {
			list, next, err := s.store.StagedApplicants(importID, from, until, screenBatch)
			if err != nil {
				return nil, err
			}
			put(list)
			if next == 0 {
				break
			}
			from = next
		}
	}
	// Each applied batch is indexed while the next one is applied.
	batches := make(chan []*pb.Applicant, 2)
	indexed := make(chan struct{})
	go func() {
		defer close(indexed)
		for b := range batches {
			put(b)
		}
	}()
	m, err = s.store.ApplyImport(importID, now, func(b []*pb.Applicant) { batches <- b })
	close(batches)
	<-indexed
	if err != nil {
		return nil, err
	}
	applied := time.Since(start)
	ids := make([]string, 0, len(affected))
	for id := range affected {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	alerts, err := s.screenApplicants(ids, now)
	if err != nil {
		return nil, err
	}
	screened := time.Since(start)
	// Hires added before their applicant was imported are linked now: the
	// link does not depend on which of the two came first.
	linked, err := s.linkWaitingHires()
	if err != nil {
		return nil, err
	}
	if linked > 0 {
		s.log.Info("hires linked to their applicants", "import", importID, "hires", linked)
	}
	if err := s.store.DiscardImport(importID); err != nil {
		return nil, err
	}
	s.log.Info("applicant import applied and screened", "import", importID, "rows", m.Rows, "added", m.Added,
		"updated", m.Updated, "screened", len(ids), "alerts", alerts, "apply_and_index", applied.Round(time.Millisecond),
		"screen", (screened - applied).Round(time.Millisecond), "cleanup", (time.Since(start) - screened).Round(time.Millisecond))
	return &pb.ImportApplicantsResponse{Added: uint32(m.Added), Updated: uint32(m.Updated), Unchanged: uint32(m.Unchanged),
		Screened: uint32(len(ids)), Alerts: uint32(alerts)}, nil
}

// screenApplicants screens applicants (on every core: the index is safe for
// concurrent use) and writes their alerts, a batch per transaction. It
// returns how many alerts were opened or rose.
func (s *Server) screenApplicants(ids []string, now time.Time) (int, error) {
	cfg := s.engine.Config()
	type screened struct {
		ids     []string
		screens []analysis.ApplicantScreen
	}
	// One batch is written while the next is screened.
	batches := make(chan screened, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		workers := runtime.GOMAXPROCS(0)
		for lo := 0; lo < len(ids); lo += screenBatch {
			b := screened{ids: ids[lo:min(lo+screenBatch, len(ids))]}
			b.screens = make([]analysis.ApplicantScreen, len(b.ids))
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(b.ids); i += workers {
						b.screens[i] = s.screening.index().Screen(b.ids[i], now)
					}
				}()
			}
			wg.Wait()
			select {
			case batches <- b:
			case <-stop:
				return
			}
		}
	}()
	opened := 0
	for b := range batches {
		err := s.store.Update(func(tx *store.Tx) error {
			for i, id := range b.ids {
				n, err := writeApplicantAlert(tx, id, b.screens[i], &cfg, now)
				if err != nil {
					return err
				}
				opened += n
			}
			return nil
		})
		if err != nil {
			return opened, err
		}
	}
	return opened, nil
}

// writeApplicantAlert opens, updates or leaves an applicant's alert by its
// screening; it returns 1 when an alert was opened or its score rose.
func writeApplicantAlert(tx *store.Tx, id string, sc analysis.ApplicantScreen, cfg *analysis.Config, now time.Time) (int, error) {
	a, err := tx.Applicant(id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // tied to in memory, never stored: nothing to alert on
	}
	if err != nil {
		return 0, err
	}
	prev, err := tx.ApplicantAlert(id)
	if err != nil {
		return 0, err
	}
	var before *pb.Alert
	if prev != nil {
		before = proto.Clone(prev).(*pb.Alert)
	}
	al, ok := analysis.ApplicantAlert(prev, a, sc, cfg, now)
	if !ok || (before != nil && proto.Equal(before, al)) {
		return 0, nil
	}
	if al.GetId() == "" || (before != nil && before.GetStatus() == "resolved" && al.GetStatus() != "resolved") {
		if al.Id, err = tx.NextAlertID(); err != nil {
			return 0, err
		}
	}
	al.Kind, al.ApplicantId = analysis.KindApplicant, id
	if err := tx.PutApplicantAlert(al); err != nil {
		return 0, err
	}
	if before == nil || before.GetId() != al.GetId() || al.GetScore() > before.GetScore() {
		return 1, nil
	}
	return 0, nil
}

func (a *adminService) ListApplicants(ctx context.Context, req *pb.ListApplicantsRequest) (*pb.ListApplicantsResponse, error) {
	if v := req.GetMinScore(); v < 0 || v > 1 || v != v {
		return nil, status.Errorf(codes.InvalidArgument, "minimum score %v: scores lie between 0 and 1", v)
	}
	out := &pb.ListApplicantsResponse{}
	err := a.s.store.View(func(tx *store.Tx) error {
		return tx.ForEachApplicant(func(ap *pb.Applicant) error {
			al, err := tx.ApplicantAlert(ap.GetId())
			if err != nil {
				return err
			}
			if req.GetMinScore() > 0 && (al == nil || al.GetStatus() == "resolved" || al.GetScore() < req.GetMinScore()) {
				return nil
			}
			sum := &pb.ApplicantSummary{Id: ap.GetId(), Name: ap.GetName(), Role: ap.GetRole(),
				ClaimedPlace: ap.GetClaimedPlace().GetPlace(), HireId: ap.GetHireId(), AppliedAt: ap.GetAppliedAt()}
			if al != nil {
				sum.Score, sum.AlertId = al.GetScore(), al.GetId()
			}
			out.Applicants = append(out.Applicants, sum)
			return nil
		})
	})
	// The reviewers' order: highest score first, then id.
	sort.SliceStable(out.Applicants, func(i, j int) bool { return out.Applicants[i].GetScore() > out.Applicants[j].GetScore() })
	return out, asStatus(err)
}

func (a *adminService) GetApplicant(ctx context.Context, req *pb.GetApplicantRequest) (*pb.ApplicantDetail, error) {
	a.s.setGeoAttribution(ctx) // its evidence names places
	out := &pb.ApplicantDetail{}
	err := a.s.store.View(func(tx *store.Tx) error {
		ap, err := tx.Applicant(req.GetId())
		if err != nil {
			return err
		}
		out.Applicant = ap
		out.Alert, err = tx.ApplicantAlert(ap.GetId())
		return err
	})
	if err != nil {
		return nil, asStatus(err)
	}
	// An import or erasure running here keeps the index in step itself.
	if scr := a.s.screening; scr.importMu.TryLock() {
		err := a.s.syncApplicants()
		scr.importMu.Unlock()
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "screen applicant %s: %v", req.GetId(), err)
		}
	}
	sc := a.s.screening.index().Screen(req.GetId(), a.s.cfg.Now())
	out.Score, out.Evidence, out.Related = sc.Score, sc.Evidence, sc.Related
	return out, nil
}

// linkApplicant links a hire to the applicant they were: the one the hire
// names, or else the one applicant (exactly one) with the hire's email. The
// applicant records the hire too.
func linkApplicant(tx *store.Tx, h *pb.Hire) error {
	named := h.GetApplicantId() != ""
	if !named {
		if !tx.HasApplicantEmails() {
			return nil // no applicants: a 100,000-row hires import reads no email
		}
		ids := tx.ApplicantsByEmail(canonicalEmail(h.GetEmail()))
		if len(ids) != 1 {
			return nil // none, or several: a reviewer links by hand
		}
		h.ApplicantId = ids[0]
	}
	ap, err := tx.Applicant(h.GetApplicantId())
	if errors.Is(err, store.ErrNotFound) {
		return status.Errorf(codes.InvalidArgument, "hire %s: applicant %q does not exist (import it with `farmwatch applicants import`); nothing was stored", h.GetId(), h.GetApplicantId())
	}
	if err != nil {
		return err
	}
	switch ap.GetHireId() {
	case h.GetId():
		return nil
	case "":
		ap.HireId = h.GetId()
		if err := tx.PutApplicant(ap); err != nil {
			return err
		}
		// The applicant's alert names the hire too, so the queue shows it.
		al, err := tx.ApplicantAlert(ap.GetId())
		if err != nil || al == nil {
			return err
		}
		al.HireId = h.GetId()
		return tx.PutApplicantAlert(al)
	}
	if !named {
		h.ApplicantId = "" // that applicant is another hire's: no guess
		return nil
	}
	return status.Errorf(codes.FailedPrecondition, "hire %s: applicant %s is already linked to hire %s; nothing was stored", h.GetId(), ap.GetId(), ap.GetHireId())
}

// linkWaitingHires links every hire without an applicant to the one
// applicant (exactly one) with its email, as adding the hire would have had
// the applicant been there; it returns how many it linked. Hires are few
// next to applicants: one pass over them.
func (s *Server) linkWaitingHires() (int, error) {
	n := 0
	err := s.store.Update(func(tx *store.Tx) error {
		hires, err := tx.Hires()
		if err != nil {
			return err
		}
		for _, h := range hires {
			if h.GetApplicantId() != "" || h.GetEmail() == "" {
				continue
			}
			if err := linkApplicant(tx, h); err != nil {
				return err
			}
			if h.GetApplicantId() == "" {
				continue
			}
			if err := tx.PutHire(h); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// canonicalEmail is an email as applicants are compared by it, or "" when
// it does not read as one.
func canonicalEmail(email string) string {
	e, err := applicants.NormalizeEmail(email)
	if err != nil {
		return ""
	}
	return e.GetCanonical()
}

// unlinkApplicant clears the applicant's side of an erased hire's link: the
// applicant stays (an application, not a hire), without the hire's id.
func unlinkApplicant(tx *store.Tx, hireID string) error {
	h, err := tx.Hire(hireID)
	if err != nil || h.GetApplicantId() == "" {
		return err
	}
	ap, err := tx.Applicant(h.GetApplicantId())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || ap.GetHireId() != hireID {
		return err
	}
	ap.HireId = ""
	return tx.PutApplicant(ap)
}

// DeleteApplicant erases an applicant for an erasure request (one who was
// never hired, or who asks to be forgotten): the record and its alerts go;
// the applicants tied to them are screened again without them, in the same
// transaction, so no evidence names them; their name and id are scrubbed
// from the other alerts and earlier audit entries; a hire they became stays,
// unlinked. Then the freed pages of the file are overwritten. One audit
// line remains: the id, who, when, the counts and the note.
func (a *adminService) DeleteApplicant(ctx context.Context, req *pb.DeleteApplicantRequest) (*pb.DeleteApplicantResponse, error) {
	if strings.TrimSpace(req.GetNote()) == "" {
		return nil, status.Error(codes.InvalidArgument, "note: say which erasure request this answers (it goes in the audit trail)")
	}
	s, id := a.s, req.GetId()
	sc := s.screening
	// An import applied meanwhile would index the applicant's ties anew.
	sc.importMu.Lock()
	defer sc.importMu.Unlock()
	if err := s.syncApplicants(); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v; nothing was erased", err)
	}
	var ap *pb.Applicant
	err := s.store.View(func(tx *store.Tx) error {
		var err error
		ap, err = tx.Applicant(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "applicant %q does not exist", id)
	}
	if err != nil {
		return nil, asStatus(err)
	}
	now, who, cfg := s.cfg.Now(), identityFrom(ctx).Name, s.engine.Config()
	tied := sc.index().Remove(id)
	screens := make([]analysis.ApplicantScreen, len(tied))
	for i, o := range tied {
		screens[i] = sc.index().Screen(o, now)
	}
	resp := &pb.DeleteApplicantResponse{ApplicantId: id, Rescreened: uint32(len(tied))}
	err = s.store.Update(func(tx *store.Tx) error {
		// The tied applicants' alerts first, from screenings without the
		// erased one; the scrub then reaches what screening does not
		// rewrite (older alerts, the queue's other kinds).
		for i, o := range tied {
			if _, err := writeApplicantAlert(tx, o, screens[i], &cfg, now); err != nil {
				return fmt.Errorf("screen applicant %s again: %w", o, err)
			}
		}
		n, err := tx.EraseApplicant(id)
		if err != nil {
			return err
		}
		resp.Alerts, resp.AlertsScrubbed, resp.AuditEntriesRedacted = uint32(n.Alerts), uint32(n.AlertsScrubbed), uint32(n.AuditRedacted)
		resp.HireUnlinked = n.HireUnlinked
		detail := fmt.Sprintf("erased: %d alerts; %d tied applicants screened again; %d alerts and %d audit entries scrubbed",
			n.Alerts, len(tied), n.AlertsScrubbed, n.AuditRedacted)
		if n.HireUnlinked != "" {
			detail += "; hire " + n.HireUnlinked + " kept, unlinked"
		}
		return tx.Audit(now, who, "applicant.delete", id, detail+"; "+req.GetNote())
	})
	if err != nil {
		sc.index().Put(ap) // nothing was erased: screening keeps them
		return nil, asStatus(err)
	}
	if pages, err := s.store.ScrubFreePages(30 * time.Second); errors.Is(err, store.ErrNotBbolt) {
		s.log.Info("applicant erased; the database reclaims the space of the deleted rows itself", "applicant", id, "rescreened", len(tied))
	} else if err != nil {
		s.log.Error("applicant erased, but its freed pages still hold the bytes", "applicant", id, "err", err)
		return nil, status.Errorf(codes.Internal, "applicant %s erased, but overwriting the freed pages of the store failed (%v): the erased bytes stay in free pages of the store file until they are reused", id, err)
	} else {
		s.log.Info("applicant erased", "applicant", id, "rescreened", len(tied), "free_pages_zeroed", pages)
	}
	return resp, nil
}
