package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// EventLog is the alert event log as the outputs read it (the store's).
type EventLog interface {
	AlertEvents(after uint64, limit int) ([]*pb.AlertEvent, error)
	LastAlertEventID() (uint64, error)
	AlertEventsSignal() <-chan struct{}
}

// Outcomes passed to Options.Observe.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed" // a failed attempt that will be retried
	OutcomeDead      = "dead"   // the last failed attempt: the event went to the dead letters
)

// testEventType is the type of the event TestWebhook sends; it is never in
// the log.
const testEventType = "test"

// Options configure an Outbox.
type Options struct {
	// Log is the alert event log the outputs read.
	Log EventLog
	// Store keeps each output's cursor and dead letters.
	Store *store.Store
	// Observe, when set, is called after every delivery attempt with the
	// output's name and type, the outcome and how long the attempt took.
	Observe func(sink, sinkType, outcome string, took time.Duration)
	// BackoffBase and BackoffCap bound the wait before a retry: attempt n
	// waits a random time in [0, min(cap, base*2^(n-1))) (full jitter).
	// Zero: 1s and 5m.
	BackoffBase, BackoffCap time.Duration
	// Poll is how often an idle output reads the log even without a signal
	// (a safety net; zero: 30s).
	Poll time.Duration
	// StopGrace is how long Stop lets deliveries in flight finish before
	// cutting them short (zero: 3s): a receiver that has taken an event
	// gets its acknowledgement recorded, rather than the event again after
	// the restart.
	StopGrace time.Duration
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Holder names this collector among the collectors of a shared store.
	// Set, an output is delivered only while this collector holds its
	// lease, a record in the store taken and renewed in a transaction, so
	// that several collectors running one outputs file deliver each event
	// once between them rather than once each. Empty: no lease (the only
	// collector of a bbolt store).
	Holder string
	// LeaseTTL is how long a lease lasts unrenewed (zero: DefaultLeaseTTL):
	// the holder renews it every third of that, and when the holder dies
	// another collector takes the output over within about LeaseTTL. The
	// collectors' clocks must agree to well within it.
	LeaseTTL time.Duration
}

// DefaultLeaseTTL is how long an output's lease lasts without renewal.
const DefaultLeaseTTL = 15 * time.Second

// ErrUnknownOutput is returned for a name no configured output has.
var ErrUnknownOutput = errors.New("no such output")

// Outbox delivers the alert event log to the configured outputs, one
// goroutine each.
type Outbox struct {
	opts    Options
	log     *slog.Logger
	workers []*worker
	byName  map[string]*worker

	// soft ends the workers' loops and waits; hard cuts short a delivery
	// in flight.
	soft, hard context.CancelFunc
	wg         sync.WaitGroup
	once       sync.Once
}

type worker struct {
	o   *Outbox
	out *Output
	d   deliverer
	// kick wakes the worker for requeued dead letters.
	kick chan struct{}

	mu          sync.Mutex
	cursor      uint64
	attempts    uint32
	lastSuccess time.Time
	lastError   string

	// leased is when this collector's lease on the output ends as it last
	// wrote it (zero: not held; only with Options.Holder). follower: the
	// log said another collector delivers the output.
	leased   time.Time
	follower bool
}

// NewOutbox prepares the outputs of cfg; Start starts their goroutines.
func NewOutbox(cfg *Config, opts Options) (*Outbox, error) {
	if opts.Log == nil || opts.Store == nil {
		return nil, errors.New("outbox: an event log and a store are required")
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = time.Second
	}
	if opts.BackoffCap <= 0 {
		opts.BackoffCap = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 3 * time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	o := &Outbox{opts: opts, log: opts.Logger, byName: map[string]*worker{}}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.log = o.log.With("component", "outputs")
	for _, out := range cfg.Outputs {
		w := &worker{o: o, out: out, kick: make(chan struct{}, 1)}
		switch out.Type {
		case TypeWebhook:
			w.d = &webhook{out: out, client: newHTTPClient(), now: opts.Now}
		case TypeSlack:
			w.d = &slack{out: out, client: newHTTPClient()}
		case TypeJSONL:
			w.d = newJSONL(out)
		case TypeSyslog:
			w.d = newSyslog(out)
		default:
			return nil, fmt.Errorf("output %q: type %q: want webhook, slack, jsonl or syslog", out.Name, out.Type)
		}
		o.workers = append(o.workers, w)
		o.byName[out.Name] = w
	}
	return o, nil
}

// Start sets each output at its cursor (a new output at the newest event:
// it does not replay the log's history) and starts delivering.
func (o *Outbox) Start() error {
	last, err := o.opts.Log.LastAlertEventID()
	if err != nil {
		return fmt.Errorf("outputs: read the alert event log: %w", err)
	}
	err = o.opts.Store.Update(func(tx *store.Tx) error {
		for _, w := range o.workers {
			c, ok := tx.SinkCursor(w.out.Name)
			if !ok {
				c = last
				if err := tx.SetSinkCursor(w.out.Name, c); err != nil {
					return err
				}
			}
			w.cursor = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outputs: read their cursors: %w", err)
	}
	hard, hardCancel := context.WithCancel(context.Background())
	soft, softCancel := context.WithCancel(hard)
	o.soft, o.hard = softCancel, hardCancel
	for _, w := range o.workers {
		o.log.Info("output started", "sink", w.out.Name, "type", w.out.Type, "target", w.out.Target(), "cursor", w.cursor)
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			w.run(soft, hard)
		}()
	}
	return nil
}

// Stop ends every output's goroutine and closes the outputs' files and
// connections. A delivery in flight has StopGrace to finish; past it, it
// is cut short and the event delivered again at the next start. The store
// stays open.
func (o *Outbox) Stop() {
	o.once.Do(func() {
		if o.soft != nil {
			o.soft()
			done := make(chan struct{})
			go func() { o.wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(o.opts.StopGrace):
				o.log.Warn("outputs: a delivery is still in flight at shutdown; cutting it short (it is sent again at the next start)")
			}
			o.hard()
		}
		o.wg.Wait()
		o.releaseLeases()
		for _, w := range o.workers {
			if err := w.d.close(); err != nil {
				o.log.Warn("output close", "sink", w.out.Name, "err", err)
			}
		}
	})
}

func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.opts.BackoffCap
	if attempt < 40 {
		if e := o.opts.BackoffBase << (attempt - 1); e > 0 && e < d {
			d = e
		}
	}
	return rand.N(d) + 1
}

func (o *Outbox) observe(w *worker, outcome string, took time.Duration) {
	if o.opts.Observe != nil {
		o.opts.Observe(w.out.Name, w.out.Type, outcome, took)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// match applies the output's filters.
func (out *Output) match(ev *pb.AlertEvent) bool {
	a := ev.GetAlert()
	if len(out.Kinds) > 0 && !contains(out.Kinds, a.GetKind()) {
		return false
	}
	if len(out.Events) > 0 && !contains(out.Events, ev.GetType()) {
		return false
	}
	if out.MinScore > 0 && a.GetScore() < out.MinScore && a.GetPeakScore() < out.MinScore {
		return false
	}
	return true
}

const readBatch = 256

// run delivers until ctx ends; hard bounds a delivery in flight.
func (w *worker) run(ctx, hard context.Context) {
	log := w.o.log.With("sink", w.out.Name)
	failures := 0
	poll := w.o.opts.Poll
	if w.o.opts.Holder != "" {
		// An idle holder wakes to renew its lease; the others to see
		// whether it is still renewed.
		poll = min(poll, w.leaseTTL()/3)
	}
	for ctx.Err() == nil {
		if !w.lease(log) {
			sleep(ctx, w.leaseTTL()/3)
			continue
		}
		w.redeliver(ctx, hard, log)
		sig := w.o.opts.Log.AlertEventsSignal()
		w.mu.Lock()
		cursor := w.cursor
		w.mu.Unlock()
		evs, err := w.o.opts.Log.AlertEvents(cursor, readBatch)
		if err != nil {
			failures++
			log.Error("read the alert event log", "after", cursor, "err", err)
			sleep(ctx, w.o.backoff(failures))
			continue
		}
		failures = 0
		if len(evs) == 0 {
			t := time.NewTimer(poll)
			select {
			case <-sig:
			case <-w.kick:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			continue
		}
		skipped := false
		for _, ev := range evs {
			if ev.GetId() <= cursor {
				continue
			}
			if !w.out.match(ev) {
				cursor, skipped = ev.GetId(), true
				continue
			}
			// The commit after the delivery moves the cursor past the
			// events skipped before this one too.
			if !w.deliver(ctx, hard, log, ev, nil) {
				break
			}
			cursor, skipped = ev.GetId(), false
		}
		if skipped {
			w.setCursor(log, cursor)
		}
	}
}

// errLeaseLost: another collector took the output's lease over.
var errLeaseLost = errors.New("another collector took the output's lease over")

// lease keeps the output's lease when Options.Holder is set: true while
// this collector holds it. A free, given-up or expired lease is taken, a
// held one renewed a third of the way into its term, in one serializable
// transaction each, so two collectors never both take it. Taking it over
// reloads the cursor the previous holder left.
func (w *worker) lease(log *slog.Logger) bool {
	o := w.o
	if o.opts.Holder == "" {
		return true
	}
	now, ttl := o.opts.Now(), w.leaseTTL()
	if !w.leased.IsZero() && now.Before(w.leased.Add(-2*ttl/3)) {
		return true
	}
	var (
		held, hasCursor bool
		holder          string
		cursor          uint64
	)
	err := o.opts.Store.Update(func(tx *store.Tx) error {
		var until time.Time
		holder, until = tx.SinkLease(w.out.Name)
		held = holder == "" || holder == o.opts.Holder || !now.Before(until)
		if !held {
			return nil
		}
		cursor, hasCursor = tx.SinkCursor(w.out.Name)
		return tx.SetSinkLease(w.out.Name, o.opts.Holder, now.Add(ttl))
	})
	if err != nil {
		// Unrenewed, the lease is still ours until its term ends; past it
		// another collector may hold it.
		log.Error("renew the output's lease", "err", err)
		if !w.leased.IsZero() && !now.Before(w.leased) {
			log.Warn("the output's lease ran out unrenewed: this collector stops delivering it")
			w.leased = time.Time{}
		}
		return !w.leased.IsZero()
	}
	if !held {
		if !w.leased.IsZero() {
			log.Warn("another collector holds the output's lease: this one stops delivering it", "holder", holder)
			w.leased = time.Time{}
		} else if !w.follower {
			log.Info("another collector delivers this output; this one takes over if it stops renewing its lease", "holder", holder)
		}
		w.follower = true
		return false
	}
	if w.leased.IsZero() {
		if hasCursor {
			w.mu.Lock()
			w.cursor = cursor
			w.mu.Unlock()
		}
		log.Info("this collector holds the output's lease and delivers it", "cursor", cursor, "previous_holder", holder)
	}
	w.leased, w.follower = now.Add(ttl), false
	return true
}

// leaseTTL is the output's lease term: Options.LeaseTTL, or twice the
// output's timeout when that is longer. The lease is renewed before each
// attempt with at least two thirds of its term left, so an attempt, which
// lasts at most the timeout, ends while the lease holds.
func (w *worker) leaseTTL() time.Duration {
	return max(w.o.opts.LeaseTTL, 2*w.out.Timeout)
}

// checkLease fails a transaction recording an output's progress when
// another collector took the output over meanwhile: its own progress is
// the one that counts.
func (w *worker) checkLease(tx *store.Tx) error {
	if h := w.o.opts.Holder; h != "" {
		if holder, _ := tx.SinkLease(w.out.Name); holder != h {
			return errLeaseLost
		}
	}
	return nil
}

// releaseLeases gives up the leases this collector holds as it stops, so
// that another collector takes the outputs over at once rather than when
// the leases expire.
func (o *Outbox) releaseLeases() {
	for _, w := range o.workers {
		if w.leased.IsZero() {
			continue
		}
		err := o.opts.Store.Update(func(tx *store.Tx) error {
			if holder, _ := tx.SinkLease(w.out.Name); holder != o.opts.Holder {
				return nil
			}
			return tx.DeleteSinkLease(w.out.Name)
		})
		if err != nil {
			o.log.Warn("give up an output's lease (another collector takes it over when it expires)", "sink", w.out.Name, "err", err)
		}
		w.leased = time.Time{}
	}
}

// setCursor records the cursor past events the filters skipped.
func (w *worker) setCursor(log *slog.Logger, id uint64) {
	err := w.o.opts.Store.Update(func(tx *store.Tx) error {
		if err := w.checkLease(tx); err != nil {
			return err
		}
		return tx.SetSinkCursor(w.out.Name, id)
	})
	if errors.Is(err, errLeaseLost) {
		w.leased = time.Time{}
		return
	}
	if err != nil {
		log.Error("save the output's cursor", "cursor", id, "err", err)
	}
	w.mu.Lock()
	w.cursor = id
	w.mu.Unlock()
}

// deliver tries an event until it is delivered or max_attempts fail, then
// commits the outcome: the cursor past it, or (dead is non-nil for a
// requeued dead letter) the dead letter deleted or updated. It returns
// false only when the outbox stops first, with nothing committed.
func (w *worker) deliver(ctx, hard context.Context, log *slog.Logger, ev *pb.AlertEvent, dead *pb.DeadLetter) bool {
	first := w.o.opts.Now()
	prior := uint32(0)
	if dead != nil {
		prior = dead.GetAttempts()
		first = dead.GetFirstAttempt().AsTime()
	}
	for attempt := 1; ; attempt++ {
		// A lease lost (or not renewed) meanwhile, during a backoff say:
		// the output's new holder delivers the event.
		if ctx.Err() != nil || !w.lease(log) {
			return false
		}
		actx, cancel := context.WithTimeout(hard, w.out.Timeout)
		start := time.Now()
		_, err := w.d.deliver(actx, ev)
		took := time.Since(start)
		cancel()
		if err == nil {
			w.commit(log, ev, dead, nil)
			w.o.observe(w, OutcomeDelivered, took)
			w.mu.Lock()
			w.attempts, w.lastSuccess = 0, w.o.opts.Now()
			w.mu.Unlock()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.mu.Lock()
		w.attempts, w.lastError = uint32(attempt), err.Error()
		w.mu.Unlock()
		if attempt >= w.out.MaxAttempts {
			dl := &pb.DeadLetter{Sink: w.out.Name, EventId: ev.GetId(), AlertId: ev.GetAlert().GetId(),
				EventType: ev.GetType(), Attempts: prior + uint32(attempt), LastError: err.Error(),
				FirstAttempt: timestamppb.New(first), DeadAt: timestamppb.New(w.o.opts.Now())}
			w.commit(log, ev, dead, dl)
			w.o.observe(w, OutcomeDead, took)
			log.Warn("output gave up on an event: it is in the dead letters (farmwatch webhooks retry)",
				"event_id", ev.GetId(), "attempts", dl.GetAttempts(), "err", err)
			w.mu.Lock()
			w.attempts = 0
			w.mu.Unlock()
			return true
		}
		w.o.observe(w, OutcomeFailed, took)
		wait := w.o.backoff(attempt)
		log.Warn("output delivery failed; retrying", "event_id", ev.GetId(), "attempt", attempt,
			"max_attempts", w.out.MaxAttempts, "retry_in", wait.Round(time.Millisecond), "err", err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// commit records a delivery's outcome in one transaction. newDead is the
// dead letter when the event failed for good.
func (w *worker) commit(log *slog.Logger, ev *pb.AlertEvent, requeued, newDead *pb.DeadLetter) {
	err := w.o.opts.Store.Update(func(tx *store.Tx) error {
		if err := w.checkLease(tx); err != nil {
			return err
		}
		if newDead != nil {
			if err := tx.PutDeadLetter(newDead); err != nil {
				return err
			}
		} else if requeued != nil {
			if err := tx.DeleteDeadLetter(w.out.Name, ev.GetId()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if requeued == nil {
			return tx.SetSinkCursor(w.out.Name, ev.GetId())
		}
		return nil
	})
	switch {
	case errors.Is(err, errLeaseLost):
		// The collector that took the output over goes on from the
		// progress recorded before it did: it may deliver this event
		// once more (receivers dedupe on webhook-id).
		log.Warn("the output's lease passed to another collector during a delivery; it may deliver the event again",
			"event_id", ev.GetId())
		w.leased = time.Time{}
	case err != nil:
		// The event stays delivered in memory; after a restart it may be
		// delivered once more (receivers dedupe on webhook-id).
		log.Error("save the output's progress", "event_id", ev.GetId(), "err", err)
	}
	if requeued == nil {
		w.mu.Lock()
		w.cursor = ev.GetId()
		w.mu.Unlock()
	}
}

// redeliver delivers the dead letters a reviewer requeued.
func (w *worker) redeliver(ctx, hard context.Context, log *slog.Logger) {
	var ids []uint64
	if err := w.o.opts.Store.View(func(tx *store.Tx) error {
		ids = tx.RequeuedDeadLetters(w.out.Name)
		return nil
	}); err != nil {
		log.Error("read requeued dead letters", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		var dl *pb.DeadLetter
		if err := w.o.opts.Store.View(func(tx *store.Tx) (err error) {
			dl, err = tx.DeadLetter(w.out.Name, id)
			return err
		}); err != nil {
			continue // deleted meanwhile
		}
		evs, err := w.o.opts.Log.AlertEvents(id-1, 1)
		if err != nil {
			log.Error("read the alert event log", "event_id", id, "err", err)
			return
		}
		if len(evs) == 0 || evs[0].GetId() != id {
			// Pruned by retention: it cannot be sent again; say so on the letter.
			dl.LastError = "the event is no longer in the alert event log (past the retention period): it cannot be sent again"
			if err := w.o.opts.Store.Update(func(tx *store.Tx) error { return tx.PutDeadLetter(dl) }); err != nil {
				log.Error("update a dead letter", "event_id", id, "err", err)
			}
			continue
		}
		log.Info("delivering a requeued dead letter", "event_id", id)
		if !w.deliver(ctx, hard, log, evs[0], dl) {
			return
		}
	}
}

func (o *Outbox) worker(name string) (*worker, error) {
	w, ok := o.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w named %q (outputs come from the serve --outputs file)", ErrUnknownOutput, name)
	}
	return w, nil
}

// Sinks reports the outputs (one, when name is set): configuration,
// cursor, the newest event id, dead letters and the last outcome.
func (o *Outbox) Sinks(name string) ([]*pb.AlertSink, error) {
	ws := o.workers
	if name != "" {
		w, err := o.worker(name)
		if err != nil {
			return nil, err
		}
		ws = []*worker{w}
	}
	last, err := o.opts.Log.LastAlertEventID()
	if err != nil {
		return nil, err
	}
	out := make([]*pb.AlertSink, 0, len(ws))
	err = o.opts.Store.View(func(tx *store.Tx) error {
		for _, w := range ws {
			dead, err := tx.DeadLetters(w.out.Name)
			if err != nil {
				return err
			}
			// On a shared store the output may be delivered by another
			// collector: its progress is the one recorded in the store.
			stored, ok := tx.SinkCursor(w.out.Name)
			w.mu.Lock()
			cursor := w.cursor
			if o.opts.Holder != "" && ok {
				cursor = stored
			}
			s := &pb.AlertSink{Name: w.out.Name, Type: w.out.Type, Target: w.out.Target(),
				Kinds: append([]string(nil), w.out.Kinds...), MinScore: w.out.MinScore,
				Cursor: cursor, LastEventId: last, DeadLetters: uint32(len(dead)),
				LastError: w.lastError, Attempts: w.attempts}
			if !w.lastSuccess.IsZero() {
				s.LastSuccess = timestamppb.New(w.lastSuccess)
			}
			w.mu.Unlock()
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// DeadLetters lists the dead letters of one output, or of all when name is
// empty (including those of outputs no longer configured).
func (o *Outbox) DeadLetters(name string) ([]*pb.DeadLetter, error) {
	if name != "" {
		if _, err := o.worker(name); err != nil {
			return nil, err
		}
	}
	var out []*pb.DeadLetter
	err := o.opts.Store.View(func(tx *store.Tx) (err error) {
		out, err = tx.DeadLetters(name)
		return err
	})
	return out, err
}

// Retry marks dead letters of an output (all of them with all) to be
// delivered again, and wakes the output. It returns how many. also, when
// set, runs in the same transaction with that count (an audit entry).
func (o *Outbox) Retry(name string, ids []uint64, all bool, also func(tx *store.Tx, n int) error) (int, error) {
	w, err := o.worker(name)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 && !all {
		return 0, errors.New("name the dead letters' event ids, or all")
	}
	if len(ids) > 0 && all {
		return 0, errors.New("event ids and all together: give one")
	}
	var n int
	err = o.opts.Store.Update(func(tx *store.Tx) (err error) {
		if n, err = tx.RequeueDeadLetters(name, ids); err != nil || also == nil {
			return err
		}
		return also(tx, n)
	})
	if err != nil {
		return 0, err
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return n, nil
}

// Test sends a test event (type "test", never in the log) to the output
// once, now, outside its queue, and says what the receiver did.
func (o *Outbox) Test(ctx context.Context, name string) (*pb.TestWebhookResponse, error) {
	w, err := o.worker(name)
	if err != nil {
		return nil, err
	}
	now := o.opts.Now()
	ev := &pb.AlertEvent{Type: testEventType, At: timestamppb.New(now), Alert: &pb.Alert{
		Id: "test", Kind: "device", Status: "open",
		Summary:   "farmwatch test event: this output works (farmwatch webhooks test)",
		CreatedAt: timestamppb.New(now), UpdatedAt: timestamppb.New(now)}}
	ctx, cancel := context.WithTimeout(ctx, w.out.Timeout)
	defer cancel()
	start := time.Now()
	code, err := w.d.deliver(ctx, ev)
	took := time.Since(start)
	resp := &pb.TestWebhookResponse{Sink: name, HttpStatus: int32(code), Took: durationpb.New(took)}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp, nil
}
