package store

import (
	"fmt"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// OrderedResult says what IngestInOrder did with its reports.
type OrderedResult struct {
	Stored     int
	Duplicates int
	// Refused counts reports turned away, and Refusals says why by device:
	// a device the store does not hold.
	Refused  int
	Refusals map[string]error
}

// IngestInOrder stores reports of any devices in exactly the order given,
// each analysed as Ingest analyses it, all in one transaction. It is for a
// replay of stored reports into another store (a backtest): there the
// order across devices is the point, and one caller writes, so the queue
// and the batching of Ingest, which let concurrent callers share a commit,
// would only reorder. Each report keeps its own receive time.
func (s *Store) IngestInOrder(reports []*pb.StoredReport) (OrderedResult, error) {
	var res OrderedResult
	var jobs []*ingestJob
	for _, sr := range reports {
		v, err := s.codec.encode(sr)
		if err != nil {
			return res, fmt.Errorf("report %d of device %s: %w", sr.GetReport().GetSeq(), sr.GetDeviceId(), err)
		}
		// A device's consecutive reports are one job, as one call of its
		// agent would be.
		if n := len(jobs); n > 0 && jobs[n-1].deviceID == sr.GetDeviceId() {
			jobs[n-1].reports = append(jobs[n-1].reports, sr)
			jobs[n-1].values = append(jobs[n-1].values, v)
			continue
		}
		jobs = append(jobs, &ingestJob{deviceID: sr.GetDeviceId(), reports: []*pb.StoredReport{sr}, values: [][]byte{v}})
	}
	if err := s.words.take(s.kv); err != nil {
		return res, err
	}
	err := s.kv.Update(func(btx kvTx) error {
		tx := &Tx{tx: btx, s: s}
		res = OrderedResult{}
		for _, job := range jobs {
			r, err := tx.ingestJob(job)
			if ref, ok := err.(*refusal); ok {
				if res.Refusals == nil {
					res.Refusals = map[string]error{}
				}
				res.Refusals[job.deviceID] = ref.err
				res.Refused += len(job.reports)
				continue
			}
			if err != nil {
				return err
			}
			res.Stored += len(r.Acknowledged) - len(r.Duplicates)
			res.Duplicates += len(r.Duplicates)
		}
		return nil
	})
	if err != nil {
		return OrderedResult{}, err
	}
	return res, nil
}
