package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// backupChunk is the size of one streamed piece of a backup.
const backupChunk = 1 << 20

// backupStallLimit ends a backup whose client has taken nothing for this
// long, so that a paused or forgotten client does not keep a store-sized
// copy on disk and every later backup waiting.
var backupStallLimit = 2 * time.Minute

// Backup copies the store into a file of the data dir (store.Snapshot), with
// no transaction left open, then streams that file at the client's pace.
func (a *adminService) Backup(_ *pb.BackupRequest, stream pb.AdminService_BackupServer) error {
	ctx := stream.Context()
	who := identityFrom(ctx).Name
	snap, err := a.s.store.Snapshot(ctx)
	if err != nil {
		a.s.log.Warn("backup refused", "by", who, "err", err)
		return backupStatus(err)
	}
	a.s.log.Info("backup: streaming the copy", "by", who, "bytes", snap.Size)
	progress := make(chan struct{}, 1)
	done := make(chan error, 1)
	// The sender owns the copy and removes it: after a stall it may still be
	// blocked in Send, which returns once this handler has ended the call.
	go func() {
		defer snap.Close()
		done <- sendSnapshot(stream, snap, progress)
	}()
	stall := time.NewTimer(backupStallLimit)
	defer stall.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				a.s.log.Warn("backup: streaming ended early; the copy was removed", "by", who, "err", err)
				return backupStatus(err)
			}
			a.s.log.Info("backup: sent", "by", who, "bytes", snap.Size)
			return nil
		case <-progress:
			stall.Reset(backupStallLimit)
		case <-stall.C:
			a.s.log.Warn("backup: the client stopped reading; the copy is removed", "by", who, "stalled", backupStallLimit)
			return status.Errorf(codes.DeadlineExceeded,
				"backup: the client read nothing for %s, so the collector removed its copy; run the backup again", backupStallLimit)
		}
	}
}

// sendSnapshot streams the copy in chunks, the first carrying its size, and
// signals progress after each chunk the stream took.
func sendSnapshot(stream pb.AdminService_BackupServer, snap *store.Snapshot, progress chan<- struct{}) error {
	buf := make([]byte, backupChunk)
	for first := true; ; first = false {
		n, err := io.ReadFull(snap, buf)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read the copy: %w", err)
		}
		if n > 0 || first {
			c := &pb.BackupChunk{Data: buf[:n]}
			if first {
				c.Size = uint64(snap.Size)
			}
			if err := stream.Send(c); err != nil {
				return err
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return nil
		}
	}
}

// backupStatus says why a backup did not happen and what to do next.
func backupStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, store.ErrNotBbolt):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrBackupRunning), errors.Is(err, store.ErrNoSpace):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Errorf(codes.Internal, "backup: %v", err)
}
