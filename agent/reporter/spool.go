package reporter

import (
	"fmt"
	"log/slog"

	"github.com/farmwatch/farmwatch/agent/spool"
)

// OpenSpool opens the device's spool and says in the log what became of its
// sequence. identityExisted is false when the device enrolled in this start.
// A new spool beside an identity that already existed means the old spool was
// deleted or reset: the reports waiting in it are gone, and the collector
// records the new epoch as a spool reset.
func OpenSpool(path string, maxReports int, deviceID string, identityExisted bool, log *slog.Logger) (*spool.Spool, error) {
	if log == nil {
		log = slog.Default()
	}
	sp, err := spool.Open(path, maxReports)
	if err != nil {
		return nil, err
	}
	renumbered, err := sp.BindDevice(deviceID)
	if err != nil {
		sp.Close()
		return nil, err
	}
	st, err := sp.Stats()
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("read spool %s: %w", path, err)
	}
	epoch := fmt.Sprintf("%016x", st.Epoch)
	switch {
	case renumbered:
		log.Warn("the spool belonged to another device: this device's sequence starts again under a new spool epoch",
			"device", deviceID, "spool_epoch", epoch, "pending", st.Pending)
	case sp.Origin() == spool.EpochNew && identityExisted:
		log.Warn("no spool found for an enrolled device: the spool was lost or reset, reports waiting in it are gone, "+
			"and a new sequence starts under a new spool epoch (the collector records a spool reset)",
			"device", deviceID, "spool", path, "spool_epoch", epoch)
	case sp.Origin() == spool.EpochAdopted:
		log.Info("spool of an earlier agent version: its sequence goes on under a spool epoch; reports already "+
			"waiting are sent as they were spooled", "device", deviceID, "spool_epoch", epoch, "pending", st.Pending)
	}
	return sp, nil
}
