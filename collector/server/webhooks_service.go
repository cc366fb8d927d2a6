package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/sinks"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The alert outputs' calls: their state and dead letters, a test send, and
// a retry of dead letters. The outputs come from serve --outputs FILE.

const noOutputs = "the collector has no outputs (start it with farmwatch serve --outputs FILE)"

// startOutputs loads nothing itself (New read the file) and starts the
// outbox over the store's event log.
func (s *Server) startOutputs(cfg *sinks.Config) error {
	if cfg == nil {
		return nil
	}
	opts := sinks.Options{
		Log: s.store, Store: s.store, Logger: s.log,
		// Deliveries by outcome and their latency, for /metrics.
		Observe: s.metrics.AlertDelivery,
	}
	if s.store.Shared() {
		// Every collector of a shared store runs the same outputs file;
		// each output is delivered by the one holding its lease.
		opts.Holder = leaseHolder(s.Addr())
		opts.LeaseTTL = s.cfg.OutputLeaseTTL
	}
	ob, err := sinks.NewOutbox(cfg, opts)
	if err == nil {
		err = ob.Start()
	}
	if err != nil {
		return err
	}
	s.outbox = ob
	return nil
}

// leaseHolder names this collector process in the outputs' leases: its
// host and address for the operator reading them, and a random part so that
// a collector restarted on the same address is a new holder.
func leaseHolder(addr string) string {
	host, _ := os.Hostname()
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s %s %x", host, addr, r)
}

func outputStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sinks.ErrUnknownOutput), errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	}
	return asStatus(err)
}

func (a *adminService) ListWebhooks(_ context.Context, req *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	ob := a.s.outbox
	resp := &pb.ListWebhooksResponse{}
	if ob == nil {
		if req.GetSink() != "" {
			return nil, status.Errorf(codes.NotFound, "no output named %q: %s", req.GetSink(), noOutputs)
		}
		err := a.s.store.View(func(tx *store.Tx) (err error) {
			resp.DeadLetters, err = tx.DeadLetters("")
			return err
		})
		return resp, asStatus(err)
	}
	var err error
	if resp.Sinks, err = ob.Sinks(req.GetSink()); err != nil {
		return nil, outputStatus(err)
	}
	if resp.DeadLetters, err = ob.DeadLetters(req.GetSink()); err != nil {
		return nil, outputStatus(err)
	}
	return resp, nil
}

func (a *adminService) TestWebhook(ctx context.Context, req *pb.TestWebhookRequest) (*pb.TestWebhookResponse, error) {
	if req.GetSink() == "" {
		return nil, status.Error(codes.InvalidArgument, "sink: name the output to test (farmwatch webhooks list shows them)")
	}
	if a.s.outbox == nil {
		return nil, status.Errorf(codes.NotFound, "no output named %q: %s", req.GetSink(), noOutputs)
	}
	resp, err := a.s.outbox.Test(ctx, req.GetSink())
	if err != nil {
		return nil, outputStatus(err)
	}
	outcome := "delivered"
	if resp.GetError() != "" {
		outcome = "failed: " + resp.GetError()
	}
	err = a.s.store.Update(func(tx *store.Tx) error {
		return tx.Audit(a.s.cfg.Now(), identityFrom(ctx).Name, "webhook.test", req.GetSink(), outcome)
	})
	return resp, asStatus(err)
}

func (a *adminService) RetryWebhook(ctx context.Context, req *pb.RetryWebhookRequest) (*pb.RetryWebhookResponse, error) {
	if req.GetSink() == "" {
		return nil, status.Error(codes.InvalidArgument, "sink: name the output whose dead letters to retry")
	}
	if len(req.GetEventIds()) == 0 && !req.GetAll() {
		return nil, status.Error(codes.InvalidArgument, "name the dead letters' event ids, or all")
	}
	if len(req.GetEventIds()) > 0 && req.GetAll() {
		return nil, status.Error(codes.InvalidArgument, "event ids and all together: give one")
	}
	if a.s.outbox == nil {
		return nil, status.Errorf(codes.NotFound, "no output named %q: %s", req.GetSink(), noOutputs)
	}
	who := identityFrom(ctx).Name
	n, err := a.s.outbox.Retry(req.GetSink(), req.GetEventIds(), req.GetAll(), func(tx *store.Tx, n int) error {
		detail := fmt.Sprintf("%d dead letters requeued", n)
		if !req.GetAll() {
			ids := make([]string, len(req.GetEventIds()))
			for i, id := range req.GetEventIds() {
				ids[i] = fmt.Sprint(id)
			}
			detail += ": events " + strings.Join(ids, ", ")
		}
		return tx.Audit(a.s.cfg.Now(), who, "webhook.retry", req.GetSink(), detail)
	})
	if err != nil {
		return nil, outputStatus(err)
	}
	return &pb.RetryWebhookResponse{Requeued: uint32(n)}, nil
}
