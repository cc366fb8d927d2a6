package reporter

import (
	"context"
	"testing"

	"github.com/farmwatch/farmwatch/agent/uplink"
	"github.com/farmwatch/farmwatch/internal/testcollector"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// enrollHire adds the hire to the collector and enrolls a laptop for it
// with a one-time token, as IT and the agent would.
func enrollHire(t *testing.T, c *testcollector.Collector, h *pb.Hire) *uplink.Identity {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Admin.AddHires(ctx, &pb.AddHiresRequest{Hires: []*pb.Hire{h}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Admin.CreateToken(ctx, &pb.CreateTokenRequest{HireId: h.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := uplink.Enroll(ctx, uplink.EnrollOptions{Collector: c.Addr(), Token: tok.GetToken(), Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
