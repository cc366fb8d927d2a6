package store

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/internal/agentlimits"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A report's sequence number is a claim of the laptop, and so is its spool
// epoch. The store keeps each (device, spool epoch, seq) once, and checks the
// claims against what an honest agent could send:
//
//   - Each spool epoch of a device gets a generation, 1, 2, 3 in the order
//     the epochs first arrive (0 for reports of agents that predate epochs),
//     and the report index is keyed on (device, ^generation, ^seq): a
//     device's entries still sort newest first right after its record.
//   - A seq further ahead of its epoch's highest stored seq than a full
//     spool plus the reports the agent could have taken since is refused
//     (SeqJumpError), and so is a new epoch's seq beyond what the device
//     could have taken since it enrolled.
//   - A new epoch of a device that reported under another one is a spool
//     reset (EventSpoolReset); new reports under an older epoch than the
//     newest, or a duplicate whose contents differ from the stored report,
//     mean two machines share one identity (EventClonedIdentity).

// maxSpoolEpochs is how many spool epochs a device's ledger remembers. An
// honest agent has one at a time; a device past this has its least recently
// used epoch forgotten, and should that epoch come back its reports are
// taken as a new spool's (a reset recorded again).
const maxSpoolEpochs = 16

// eventInterval is the least time between two recorded events of one kind
// caused by one device's calls, so that a laptop that repeats them cannot
// make the collector write once per call.
const eventInterval = time.Hour

// spoolLedger is what the store keeps of a device's spools, in its device
// record (deviceRecordSpools): each spool epoch seen, with its generation,
// its highest stored seq and when that arrived, and when the last sequence
// jump and cloned identity were recorded.
type spoolLedger struct {
	epochs       []spoolEpoch
	first        [1]spoolEpoch // backs epochs while it holds one: no allocation for an honest device
	lastGen      uint32        // the last generation handed out to a non-zero epoch
	seen         uint32        // spools seen, forgotten ones included
	jumpEventAt  int64         // unix seconds, 0 for never
	cloneEventAt int64
	dirty        bool // changed since it was read
}

type spoolEpoch struct {
	epoch   uint64
	gen     uint32
	highSeq uint64
	highAt  int64 // unix nanoseconds (the collector's clock) when highSeq arrived
}

// Wire format of the ledger (protobuf wire format, written by hand like the
// device record around it).
const (
	ledgerEpoch        = 1 // repeated, bytes: one spoolEpoch
	ledgerLastGen      = 2
	ledgerSeen         = 3
	ledgerJumpEventAt  = 4
	ledgerCloneEventAt = 5

	epochEpoch   = 1 // fixed64
	epochGen     = 2
	epochHighSeq = 3
	epochHighAt  = 4
)

func decodeSpoolLedger(b []byte) (*spoolLedger, error) {
	l := &spoolLedger{}
	l.epochs = l.first[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("spool ledger: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == ledgerEpoch && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("spool ledger: %w", protowire.ParseError(n))
			}
			b = b[n:]
			e, err := decodeSpoolEpoch(v)
			if err != nil {
				return nil, err
			}
			l.epochs = append(l.epochs, e)
			continue
		}
		if typ != protowire.VarintType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return nil, fmt.Errorf("spool ledger: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, fmt.Errorf("spool ledger: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case ledgerLastGen:
			l.lastGen = uint32(v)
		case ledgerSeen:
			l.seen = uint32(v)
		case ledgerJumpEventAt:
			l.jumpEventAt = int64(v)
		case ledgerCloneEventAt:
			l.cloneEventAt = int64(v)
		}
	}
	return l, nil
}

func decodeSpoolEpoch(b []byte) (spoolEpoch, error) {
	var e spoolEpoch
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, fmt.Errorf("spool ledger epoch: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == epochEpoch && typ == protowire.Fixed64Type:
			e.epoch, n = protowire.ConsumeFixed64(b)
		case typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			switch num {
			case epochGen:
				e.gen = uint32(v)
			case epochHighSeq:
				e.highSeq = v
			case epochHighAt:
				e.highAt = int64(v)
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return e, fmt.Errorf("spool ledger epoch: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return e, nil
}

func (l *spoolLedger) encode() []byte {
	if len(l.epochs) == 0 && l.seen == 0 && l.jumpEventAt == 0 && l.cloneEventAt == 0 {
		return nil
	}
	b := make([]byte, 0, 40+len(l.epochs)*48)
	for _, e := range l.epochs {
		// Written in place, its length first: no buffer per epoch.
		size := protowire.SizeTag(epochEpoch) + protowire.SizeFixed64() + varintFieldSize(epochGen, uint64(e.gen)) +
			varintFieldSize(epochHighSeq, e.highSeq) + varintFieldSize(epochHighAt, uint64(e.highAt))
		b = protowire.AppendTag(b, ledgerEpoch, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = protowire.AppendTag(b, epochEpoch, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, e.epoch)
		b = appendVarintField(b, epochGen, uint64(e.gen))
		b = appendVarintField(b, epochHighSeq, e.highSeq)
		b = appendVarintField(b, epochHighAt, uint64(e.highAt))
	}
	b = appendVarintField(b, ledgerLastGen, uint64(l.lastGen))
	b = appendVarintField(b, ledgerSeen, uint64(l.seen))
	b = appendVarintField(b, ledgerJumpEventAt, uint64(l.jumpEventAt))
	return appendVarintField(b, ledgerCloneEventAt, uint64(l.cloneEventAt))
}

func varintFieldSize(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// find returns the entry of a spool epoch, or nil.
func (l *spoolLedger) find(epoch uint64) *spoolEpoch {
	for i := range l.epochs {
		if l.epochs[i].epoch == epoch {
			return &l.epochs[i]
		}
	}
	return nil
}

// newest returns the entry of the latest generation, or nil.
func (l *spoolLedger) newest() *spoolEpoch {
	var n *spoolEpoch
	for i := range l.epochs {
		if n == nil || l.epochs[i].gen > n.gen {
			n = &l.epochs[i]
		}
	}
	return n
}

// add enters a new spool epoch (the caller counts it as a spool seen, or
// not), forgetting the least recently used one past maxSpoolEpochs. Epoch 0, the reports of agents that predate epochs,
// is always generation 0, so it sorts oldest.
func (l *spoolLedger) add(epoch uint64) (*spoolEpoch, error) {
	gen := uint32(0)
	if epoch != 0 {
		if l.lastGen == math.MaxUint32 {
			return nil, fmt.Errorf("spool epoch %016x: the device has used all %d spool generations", epoch, uint64(math.MaxUint32))
		}
		l.lastGen++
		gen = l.lastGen
	}
	if len(l.epochs) >= maxSpoolEpochs {
		old := 0
		for i := range l.epochs {
			if l.epochs[i].highAt < l.epochs[old].highAt {
				old = i
			}
		}
		l.epochs = append(l.epochs[:old], l.epochs[old+1:]...)
	}
	l.epochs = append(l.epochs, spoolEpoch{epoch: epoch, gen: gen})
	l.dirty = true
	return &l.epochs[len(l.epochs)-1], nil
}

// stored notes a newly stored report of an epoch.
func (e *spoolEpoch) stored(seq uint64, at time.Time) {
	if seq > e.highSeq {
		e.highSeq, e.highAt = seq, at.UnixNano()
	}
}

// seqBound is the highest seq an honest agent can send at time at, when its
// spool's highest stored seq is high, stored at since: a full spool of
// reports taken before then, plus two reports per MinReportInterval since
// (its interval less jitter, and a start now and then), plus one.
func seqBound(high uint64, since, at time.Time) uint64 {
	n := uint64(agentlimits.SpoolReports) + 1
	if d := at.Sub(since); d > 0 {
		n += 2 * uint64(d/agentlimits.MinReportInterval)
	}
	if high > math.MaxUint64-n {
		return math.MaxUint64
	}
	return high + n
}

// bound is the highest seq the device's agent can send under epoch at time
// at, and what it was reckoned from. A new epoch belongs to a spool created
// since the device enrolled, or to the spool of an agent that predates
// epochs going on under its first one.
func (l *spoolLedger) bound(dev *pb.Device, epoch uint64, at time.Time) (bound, high uint64, since time.Time) {
	if e := l.find(epoch); e != nil {
		since = time.Unix(0, e.highAt)
		return seqBound(e.highSeq, since, at), e.highSeq, since
	}
	since = at
	if t := dev.GetEnrolledAt(); t != nil {
		since = t.AsTime()
	}
	bound = seqBound(0, since, at)
	if legacy := l.find(0); legacy != nil && epoch != 0 {
		if b := seqBound(legacy.highSeq, time.Unix(0, legacy.highAt), at); b > bound {
			return b, legacy.highSeq, time.Unix(0, legacy.highAt)
		}
	}
	return bound, 0, since
}

// SeqJumpError refuses a report whose seq runs further ahead than its
// device's agent could have taken reports.
type SeqJumpError struct {
	Seq, Epoch, Bound uint64
	// HighSeq is the highest seq stored for the epoch (0 for a new one) and
	// Since when it arrived (for a new epoch: when the device enrolled).
	HighSeq uint64
	Since   time.Time
}

func (e *SeqJumpError) Error() string {
	from := fmt.Sprintf("seq %d stored at %s", e.HighSeq, e.Since.UTC().Format(time.RFC3339))
	if e.HighSeq == 0 {
		from = fmt.Sprintf("a new spool, since %s", e.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("seq %d of spool epoch %016x is beyond %d, the highest this device's agent could have reached "+
		"(%s, plus a full spool of %d reports and 2 reports per %s since): "+
		"an agent's sequence never jumps ahead of what it has taken", e.Seq, e.Epoch, e.Bound,
		from, agentlimits.SpoolReports, agentlimits.MinReportInterval)
}

// firstSeqJump checks a job's reports in order, each counted as stored for
// those after it, and returns the first one beyond its bound, or nil.
func (l *spoolLedger) firstSeqJump(dev *pb.Device, reports []*pb.StoredReport) *SeqJumpError {
	trial := l
	if len(reports) > 1 {
		trial = &spoolLedger{epochs: append([]spoolEpoch(nil), l.epochs...)}
	}
	for _, sr := range reports {
		r, at := sr.GetReport(), sr.GetReceivedAt().AsTime()
		bound, high, since := trial.bound(dev, r.GetSpoolEpoch(), at)
		if r.GetSeq() > bound {
			return &SeqJumpError{Seq: r.GetSeq(), Epoch: r.GetSpoolEpoch(), Bound: bound, HighSeq: high, Since: since}
		}
		if trial == l {
			continue
		}
		e := trial.find(r.GetSpoolEpoch())
		if e == nil {
			trial.epochs = append(trial.epochs, spoolEpoch{epoch: r.GetSpoolEpoch()})
			e = &trial.epochs[len(trial.epochs)-1]
		}
		e.stored(r.GetSeq(), at)
	}
	return nil
}

// recentEvent tells whether an event recorded at last (unix seconds) is
// less than eventInterval before at.
func recentEvent(last int64, at time.Time) bool {
	d := at.Unix() - last
	return last != 0 && d >= 0 && d < int64(eventInterval/time.Second)
}

// refuseSeqJump records a sequence jump (at most once per eventInterval)
// and returns the refusal of the job: the event and the device record are
// committed, none of the job's reports.
func (tx *Tx) refuseSeqJump(dev *pb.Device, l *spoolLedger, jump *SeqJumpError, at time.Time) error {
	if recentEvent(l.jumpEventAt, at) {
		return &refusal{err: jump}
	}
	l.jumpEventAt, l.dirty = at.Unix(), true
	err := tx.RecordEvent(dev, IngestEvent{Kind: EventSeqJump, At: at,
		Text: fmt.Sprintf("The laptop sent report number %d, far beyond the %d its agent could have taken: the collector "+
			"refused it. An unmodified agent never does this; a changed agent or a crafted report does.", jump.Seq, jump.Bound),
		Facts: map[string]string{"seq": strconv.FormatUint(jump.Seq, 10), "bound": strconv.FormatUint(jump.Bound, 10),
			"spool_epoch": epochText(jump.Epoch), "highest_stored_seq": strconv.FormatUint(jump.HighSeq, 10)}})
	if err != nil {
		return fmt.Errorf("record a sequence jump of device %s: %w", dev.GetId(), err)
	}
	tx.held.spools = l.encode()
	if err := tx.PutDevice(dev); err != nil {
		return err
	}
	return &refusal{err: jump}
}

// spoolOf returns the ledger entry of a report's spool epoch, whose
// generation its index entry is kept under, entering the epoch when it is
// new. A new epoch of a device that reported under another one is a spool
// reset, recorded once, unless it is the spool of an agent that predates
// epochs going on under its first one.
func (tx *Tx) spoolOf(dev *pb.Device, l *spoolLedger, sr *pb.StoredReport) (*spoolEpoch, error) {
	r := sr.GetReport()
	if e := l.find(r.GetSpoolEpoch()); e != nil {
		return e, nil
	}
	prev := l.newest()
	var prevEpoch, prevHigh uint64
	if prev != nil {
		prevEpoch, prevHigh = prev.epoch, prev.highSeq
	}
	e, err := l.add(r.GetSpoolEpoch())
	if err != nil {
		return nil, &refusal{err: err}
	}
	if prev != nil && prevEpoch == 0 && r.GetSeq() > prevHigh {
		return e, nil // an upgraded agent's spool: the same spool, its sequence going on
	}
	l.seen++
	if prev == nil {
		return e, nil
	}
	at := sr.GetReceivedAt().AsTime()
	err = tx.RecordEvent(dev, IngestEvent{Kind: EventSpoolReset, At: at,
		Text: fmt.Sprintf("The agent started a new spool, its %s, and numbers its reports from %d again: its spool was "+
			"deleted or reset, or the agent was reinstalled keeping its identity; reports still waiting in the old "+
			"spool were lost.", ordinal(l.seen), r.GetSeq()),
		Facts: map[string]string{"spool_epoch": epochText(r.GetSpoolEpoch()), "previous_spool_epoch": epochText(prevEpoch),
			"previous_highest_seq": strconv.FormatUint(prevHigh, 10), "first_seq": strconv.FormatUint(r.GetSeq(), 10),
			"spools_seen": strconv.FormatUint(uint64(l.seen), 10)}})
	if err != nil {
		return nil, fmt.Errorf("record a spool reset of device %s: %w", dev.GetId(), err)
	}
	return e, nil
}

// noteStored enters a newly stored report in the ledger and the device. A
// new report under an older spool epoch than the device's newest is a cloned
// identity: an honest agent has one spool at a time, so two that take turns
// are two machines.
func (tx *Tx) noteStored(dev *pb.Device, l *spoolLedger, e *spoolEpoch, sr *pb.StoredReport) error {
	e.stored(sr.GetReport().GetSeq(), sr.GetReceivedAt().AsTime())
	l.dirty = true
	l.describe(dev)
	newest := l.newest()
	if e.gen >= newest.gen {
		return nil
	}
	return tx.recordClone(dev, l, sr, fmt.Sprintf("New reports arrive under an older spool (epoch %s) while the "+
		"agent already reports under a newer one (epoch %s): two machines, each with its own spool, report with "+
		"this device's identity.", epochText(e.epoch), epochText(newest.epoch)),
		map[string]string{"spool_epoch": epochText(e.epoch), "newest_spool_epoch": epochText(newest.epoch),
			"seq": strconv.FormatUint(sr.GetReport().GetSeq(), 10)})
}

// compareDuplicate records a cloned identity when a report arrives again
// with contents that differ from the stored one: the agent resends the very
// report it spooled, so a different one under the same (epoch, seq) comes
// from another machine. The stored report is read only here, for a
// duplicate; a report already pruned by retention is not compared.
func (tx *Tx) compareDuplicate(dev *pb.Device, l *spoolLedger, rkey []byte, sr *pb.StoredReport) error {
	raw := kvGet(tx.tx.Bucket(bucketReports), rkey)
	if raw == nil {
		return nil
	}
	old, err := tx.s.codec.decode(raw)
	if err != nil {
		slog.Warn("stored report unreadable; a duplicate of it is not compared", "device", dev.GetId(),
			"seq", sr.GetReport().GetSeq(), "err", err)
		return nil
	}
	if proto.Equal(old.GetReport(), sr.GetReport()) {
		return nil
	}
	r := sr.GetReport()
	return tx.recordClone(dev, l, sr, fmt.Sprintf("Report %d of spool epoch %s arrived again with different contents: "+
		"a second machine reports with this device's identity and a copy of its spool (or an old copy of the "+
		"spool was restored). The first report was kept.", r.GetSeq(), epochText(r.GetSpoolEpoch())),
		map[string]string{"spool_epoch": epochText(r.GetSpoolEpoch()), "seq": strconv.FormatUint(r.GetSeq(), 10),
			"first_received_at": old.GetReceivedAt().AsTime().UTC().Format(time.RFC3339),
			"first_public_ip":   old.GetPublicIp(), "public_ip": sr.GetPublicIp()})
}

func (tx *Tx) recordClone(dev *pb.Device, l *spoolLedger, sr *pb.StoredReport, text string, facts map[string]string) error {
	at := sr.GetReceivedAt().AsTime()
	if recentEvent(l.cloneEventAt, at) {
		return nil
	}
	l.cloneEventAt, l.dirty = at.Unix(), true
	if err := tx.RecordEvent(dev, IngestEvent{Kind: EventClonedIdentity, At: at, Text: text, Facts: facts}); err != nil {
		return fmt.Errorf("record a cloned identity of device %s: %w", dev.GetId(), err)
	}
	return nil
}

// describe copies what a reviewer sees of the ledger into the device: the
// newest spool epoch, its highest seq (last_seq), and how many spools the
// device has reported from.
func (l *spoolLedger) describe(dev *pb.Device) {
	if n := l.newest(); n != nil {
		dev.SpoolEpoch, dev.LastSeq = n.epoch, n.highSeq
	}
	dev.SpoolGenerations = l.seen
}

func epochText(epoch uint64) string { return fmt.Sprintf("%016x", epoch) }

func ordinal(n uint32) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.FormatUint(uint64(n), 10) + suffix
}
