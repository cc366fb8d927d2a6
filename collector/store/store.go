// Package store keeps the collector's state: hires, enrollment tokens
// (hashed), devices, reports, alerts and the analysis state, in ordered
// key-value buckets of a kvEngine (engine.go): one bbolt file by default.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// SchemaVersion is the layout this code reads and writes; migrations.go
// brings older files up to it.
const SchemaVersion = 10

// Bucket names live here and nowhere else.
var (
	bucketMeta   = []byte("meta")
	bucketHires  = []byte("hires")
	bucketTokens = []byte("tokens")
	// devices: device id -> device record, the device, its analysis state
	// (schema 3) and its spool ledger (schema 5); device id + 0 +
	// ^spool generation + ^seq -> reports key, the device's report index
	// (schema 4, keyed on the spool since schema 5). Newest first, a
	// device's latest index entry sorts right after its record: a report
	// rewrites one page for both.
	bucketDevices     = []byte("devices")
	bucketReports     = []byte("reports")         // receive time + counter -> compressed StoredReport
	bucketReportIndex = []byte("reports_by_dev")  // device id + 0 + seq -> reports key (until schema 4)
	bucketAlerts      = []byte("alerts")          // alert id -> Alert
	bucketAlertIndex  = []byte("alerts_by_key")   // device or cluster id + 0 + kind -> open alert id
	bucketDeviceState = []byte("device_state")    // device id -> analysis state (until schema 3)
	bucketAudit       = []byte("audit")           // time + seq -> AuditEntry
	bucketDevByHire   = []byte("devices_by_hire") // hire id + 0 + device id -> nothing (schema 2)
	bucketAdminCerts  = []byte("admin_certs")     // serial (lowercase hex) -> AdminCertificate (schema 7)
	// Applicants (schema 8): id -> Applicant; canonical email + 0 + id ->
	// nothing; applicant id -> its latest alert id; import id + 0 + seq ->
	// a staged Applicant, and import id + 1 -> the import's commit marker.
	bucketApplicants       = []byte("applicants")
	bucketApplicantEmails  = []byte("applicants_by_email")
	bucketApplicantAlerts  = []byte("applicant_alerts")
	bucketApplicantStaging = []byte("applicant_staging")
	// The alert event log (schema 9): event id (8 bytes big-endian, the
	// bucket's sequence) -> AlertEvent (events.go).
	bucketAlertEvents = []byte("alert_events")

	// Analysis buckets, read and written through Tx.Get/Put/Scan.

	// BucketFingerprints maps kind 0 value 0 device id -> last seen (unix seconds).
	BucketFingerprints = []byte("fingerprints")
	// BucketClusters maps cluster id -> cluster record, and after each
	// record its links: cluster id 0 kind 0 value 0 device id -> linked at
	// and strength (clusters.go).
	BucketClusters = []byte("clusters")
	// BucketClusterOf maps device id -> cluster id.
	BucketClusterOf = []byte("cluster_of")

	allBuckets = [][]byte{bucketMeta, bucketHires, bucketTokens, bucketDevices, bucketReports,
		bucketAlerts, bucketAlertIndex, bucketAudit, bucketDevByHire, bucketAdminCerts,
		bucketApplicants, bucketApplicantEmails, bucketApplicantAlerts, bucketApplicantStaging, bucketAlertEvents,
		BucketFingerprints, BucketClusters, BucketClusterOf}

	keySchema = []byte("schema_version")
	// keyCounter held the last report key's counter, which every ingest
	// batch read and rewrote; stores written before report words
	// (reportWord) hold it still, and nothing reads it.
	keyCounter = []byte("report_counter")
)

// ErrNotFound is returned when a hire, device, token or alert does not exist.
var ErrNotFound = errors.New("not found")

// Store is the collector's store. It is safe for concurrent use.
type Store struct {
	// kv runs every transaction. bolt is the same file's handle when the
	// backend is bbolt (nil on any other), kept only for what exists on a
	// bbolt file alone: the file copy of a backup, scrubbing its free pages,
	// its path and memory map (bolt.go).
	kv      kvEngine
	bolt    *bolt.DB
	ingest  chan *ingestJob
	stopped chan struct{}
	codec   *codec
	// Analyze runs inside each ingest transaction for every newly stored
	// report; nil means no analysis.
	analyze  AnalyzeFunc
	event    EventFunc
	onCommit func(reports int, took time.Duration)
	maxBatch int
	// words hands out the counter half of report keys (reportWord).
	words  reportWords
	hires  *sharedCache[*pb.Hire]
	alerts *sharedCache[*pb.Alert]

	closeMu sync.RWMutex
	closed  bool

	// dailyBudget bounds the bytes of reports a device adds per UTC day
	// (budget.go); 0 means no bound.
	dailyBudget int64
	backupMu    sync.Mutex
	backup      backupSlot

	// The alert event log (events.go): the review threshold events are
	// typed by, the clock they are stamped with, what runs after a commit
	// that wrote some, and the signal its readers wait on.
	review        func() float64
	clock         func() time.Time
	onAlertEvents func([]*pb.AlertEvent)
	signalMu      sync.Mutex
	signal        eventSignal
	// pollStop ends the poll of a shared store's event log (nil: none),
	// pollDone tells it ended.
	pollStop, pollDone chan struct{}
	pollOnce           sync.Once
	// eventsSeen is the newest event id this collector committed or a
	// poll found (sawAlertEvent).
	eventsSeen atomic.Uint64
}

// Options tune a Store.
type Options struct {
	// MaxBatchReports caps the reports committed in one transaction.
	MaxBatchReports int
	// Analyze, when set, is called inside the ingest transaction.
	Analyze AnalyzeFunc
	// Event, when set, records ingest events (Tx.RecordEvent) as evidence.
	Event EventFunc
	// NoSync turns off fsync; only for building benchmark stores.
	NoSync bool
	// DailyBudget is the bytes of reports one device may add to the store
	// per UTC day (budget.go); 0 means no budget.
	DailyBudget int64
	// InitialMmapSize is the memory map bbolt opens the file with: 0 picks
	// defaultMmapSize, a negative value lets bbolt grow it from nothing
	// (tests that need remaps).
	InitialMmapSize int
	// ReviewThreshold is the score at which an alert reaches review: an
	// alert crossing it up is a review_crossed event; nil means 0.5.
	ReviewThreshold func() float64
	// Now stamps alert events (nil: time.Now).
	Now func() time.Time
	// OnAlertEvents, when set, is called after each commit that wrote
	// alert events, with them in id order, outside the transaction; each
	// event's alert holds its id, kind, status, score and peak score only
	// (the log, AlertEvents, has the whole alert).
	OnAlertEvents func([]*pb.AlertEvent)
	// OnCommit, when set, is called by the ingest writer after each batch
	// transaction with the reports the batch carried and how long the
	// transaction took (the collector's metrics).
	OnCommit func(reports int, took time.Duration)
	// EventPoll is how often a store shared with other collectors
	// (PostgreSQL) looks for alert events they committed, to wake this
	// collector's readers of the log (0: DefaultEventPoll). A bbolt store
	// has no other writer and does not poll.
	EventPoll time.Duration
}

// DefaultEventPoll is how often a shared store looks for alert events
// committed by other collectors: a watch or an output on one collector sees
// another's events within about this long, for one small read a poll.
const DefaultEventPoll = 250 * time.Millisecond

// ErrLocked means another process holds the store's file lock: a collector
// already runs on the data dir, or a backup or backtest has it open.
var ErrLocked = errors.New("the file is locked by another process")

// File is the bbolt file inside the data dir.
const File = "farmwatch.db"

// Open opens (creating if needed) the store in dir/farmwatch.db.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	db, err := openBolt(path, opts)
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	removeSnapshotLeftovers(dir)
	// Migrations of an older file run on bbolt's own transaction (they
	// exist for bbolt files alone); newStore then finds every bucket made.
	if err := db.Update(migrateBolt); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise store %s: %w", path, err)
	}
	s, err := newStore(boltEngine{db}, db, opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise store %s: %w", path, err)
	}
	return s, nil
}

// newStore builds a Store on an engine: it creates the buckets a store
// holds where they are missing, then starts the ingest writer. boltDB is the
// engine's bbolt file, or nil on another backend; the caller has already
// brought the data to SchemaVersion. On an error the engine stays open.
func newStore(e kvEngine, boltDB *bolt.DB, opts Options) (*Store, error) {
	if err := e.Update(func(tx kvTx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		switch {
		case v == nil: // a new store
			return meta.Put(keySchema, u64(SchemaVersion))
		case len(v) != 8:
			return fmt.Errorf("the store's schema version is %d bytes long, not 8: this is not a farmwatch store", len(v))
		case binary.BigEndian.Uint64(v) > SchemaVersion:
			return fmt.Errorf("store schema %d is newer than this collector understands (%d): upgrade farmwatch",
				binary.BigEndian.Uint64(v), SchemaVersion)
		case binary.BigEndian.Uint64(v) < SchemaVersion:
			// Several collectors may start together: the first to commit
			// migrates, and the others' attempts conflict, run again and
			// find the schema current.
			return migrateKV(tx, binary.BigEndian.Uint64(v))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	max := opts.MaxBatchReports
	if max <= 0 {
		max = 4096
	}
	s := &Store{
		kv:       e,
		bolt:     boltDB,
		ingest:   make(chan *ingestJob, 1024),
		stopped:  make(chan struct{}),
		codec:    newCodec(),
		analyze:  opts.Analyze,
		event:    opts.Event,
		onCommit: opts.OnCommit,
		maxBatch: max,
		hires:    newHireCache(),
		alerts:   newAlertCache(),

		review:        opts.ReviewThreshold,
		clock:         opts.Now,
		onAlertEvents: opts.OnAlertEvents,
		signal:        eventSignal{ch: make(chan struct{})},
	}
	s.dailyBudget = opts.DailyBudget
	go s.writer()
	if boltDB == nil {
		poll := opts.EventPoll
		if poll <= 0 {
			poll = DefaultEventPoll
		}
		s.pollStop, s.pollDone = make(chan struct{}), make(chan struct{})
		go s.pollAlertEvents(poll)
	}
	return s, nil
}

// openBolt opens the file with a large memory map and, should the address
// space refuse it (a ulimit, a small-VA kernel), with bbolt's own growth.
func openBolt(path string, opts Options) (*bolt.DB, error) {
	bopts := &bolt.Options{
		Timeout:         2 * time.Second,
		FreelistType:    bolt.FreelistMapType,
		NoSync:          opts.NoSync,
		InitialMmapSize: max(opts.InitialMmapSize, 0),
	}
	if opts.InitialMmapSize == 0 {
		var size int64
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
		}
		bopts.InitialMmapSize = defaultMmapSize(size)
	}
	db, err := bolt.Open(path, 0o600, bopts)
	if err == nil || bopts.InitialMmapSize == 0 || errors.Is(err, bolt.ErrTimeout) {
		return db, err
	}
	slog.Warn("store: cannot map the file with room to grow; bbolt will remap as it grows, and a long backup copy can then delay ingest",
		"path", path, "mmap_bytes", bopts.InitialMmapSize, "err", err)
	bopts.InitialMmapSize = 0
	return bolt.Open(path, 0o600, bopts)
}

// Close stops the ingest writer after it has committed every queued batch,
// then closes the engine.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ingest)
	}
	s.closeMu.Unlock()
	<-s.stopped
	if s.pollStop != nil {
		s.pollOnce.Do(func() { close(s.pollStop) })
		<-s.pollDone
	}
	return s.kv.Close()
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
