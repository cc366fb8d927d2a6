package store

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A device's daily budget: the bytes of reports it may add to the store per
// UTC day. It is kept on the device record (budget_day, budget_bytes,
// refused_over_budget) and enforced by the single writer, which reads and
// writes that record for every batch anyway, so no report can slip past
// it between a check and a write.
//
// A report is stored while the day's bytes stay under the budget. The first
// report that does not fit closes the day: budget_bytes is set to the
// budget itself, the reports are refused until the next UTC day, and one
// EventOverBudget is recorded for the day, not one per refused report (the
// device's refused_over_budget counter counts those). Raising the budget
// reopens a closed day; a report refused is never half stored.

// OverBudgetError refuses a batch of which no report fits the device's
// daily budget.
type OverBudgetError struct {
	DeviceID string
	Budget   int64
	Day      string // UTC, YYYY-MM-DD
	ResetAt  time.Time
}

func (e *OverBudgetError) Error() string {
	return fmt.Sprintf("device %s has stored its daily budget of %d bytes of reports for %s (UTC); reports are accepted again from %s",
		e.DeviceID, e.Budget, e.Day, e.ResetAt.UTC().Format(time.RFC3339))
}

// storedSize is what a report adds to the store: its encoded value, its key
// in the reports bucket, and its index entry (key and value). bbolt's pages
// come on top: a value is written into whole 4 KiB pages.
func storedSize(deviceID string, value []byte) int64 {
	return int64(len(value) + 16 + len(deviceID) + 9 + 16)
}

// budgetDay is the UTC day a report received at t counts against.
func budgetDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// dayBudget is one device's budget for one ingest job.
type dayBudget struct {
	limit int64 // 0: no budget
	dev   *pb.Device
}

// openBudget starts the job's accounting, moving the device to the UTC day
// of at (the collector's receive time).
func openBudget(limit int64, dev *pb.Device, at time.Time) dayBudget {
	if limit <= 0 {
		return dayBudget{dev: dev}
	}
	if day := budgetDay(at); dev.GetBudgetDay() != day {
		dev.BudgetDay, dev.BudgetBytes = day, 0
	}
	return dayBudget{limit: limit, dev: dev}
}

// fits tells whether a report of size bytes may be stored, and charges it
// when it may.
func (b dayBudget) fits(size int64) bool {
	if b.limit <= 0 {
		return true
	}
	if b.dev.GetBudgetBytes()+uint64(size) >= uint64(b.limit) {
		return false
	}
	b.dev.BudgetBytes += uint64(size)
	return true
}

// refuse counts n refused reports and closes the day; it returns true the
// first time the day is closed, when the event is due.
func (b dayBudget) refuse(n int) (first bool) {
	b.dev.RefusedOverBudget += uint64(n)
	first = b.dev.GetBudgetBytes() != uint64(b.limit)
	b.dev.BudgetBytes = uint64(b.limit)
	return first
}

// overBudget is the event recorded when a device's day closes.
func overBudget(dev *pb.Device, limit int64, at time.Time) IngestEvent {
	day := budgetDay(at)
	reset := resetAt(at)
	return IngestEvent{
		Kind: EventOverBudget,
		At:   at,
		Text: fmt.Sprintf("The laptop sent more than its daily budget of %d bytes of reports on %s (UTC); its reports are refused until %s.",
			limit, day, reset.Format(time.RFC3339)),
		Facts: map[string]string{"budget_bytes": fmt.Sprint(limit), "day": day, "refused_total": fmt.Sprint(dev.GetRefusedOverBudget())},
	}
}

// resetAt is when the day of t ends (UTC midnight after it).
func resetAt(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
