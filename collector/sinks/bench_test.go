package sinks

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// BenchmarkWritesBesideOutput: alert writes to the store (each one an
// event in the log) with no output, beside a dead one (connection
// refused) and beside a hung one (accepts, never answers), with the
// production backoff. Outputs only read the log, so the three should match.
func BenchmarkWritesBesideOutput(b *testing.B) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	refused := "http://" + lis.Addr().String() + "/hook"
	lis.Close()
	for _, c := range []struct{ name, url string }{{"none", ""}, {"dead", refused}, {"hung", hungServer(b)}} {
		b.Run(c.name, func(b *testing.B) {
			st := openStore(b, b.TempDir())
			defer st.Close()
			log := newFakeLog()
			if c.url != "" {
				b.Setenv("FW_SECRET", testSecret)
				cfg := webhookConfig(b, "out", c.url, "    max_attempts: 1000000\n")
				cfg.Outputs[0].Timeout = 1 << 40
				startOutbox(b, cfg, log, st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
					BackoffBase: time.Second, BackoffCap: 5 * time.Minute}) // the production backoff
			}
			now := timestamppb.Now()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				a := &pb.Alert{Id: fmt.Sprintf("al-%d", i), Kind: "device", DeviceId: "dev", Status: "open", Score: 0.7, CreatedAt: now}
				if err := st.Update(func(tx *store.Tx) error { return tx.PutAlert("dev", a) }); err != nil {
					b.Fatal(err)
				}
				log.add("device", "opened", 0.7)
			}
		})
	}
}
