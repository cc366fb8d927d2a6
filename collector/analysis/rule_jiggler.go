package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleJiggler, Class: ClassWeak, Source: SourceReport, Weight: 1.5, Eval: jiggler,
		Decay: Decay{Hold: 3 * 24 * time.Hour, Fade: 4 * 24 * time.Hour},
		Doc:   "a mouse jiggler is attached"})
}

// jiggler: a mouse jiggler is attached.
func jiggler(in Input) *pb.Evidence {
	var signs []string
	for _, u := range in.Report.GetReport().GetPeripherals().GetUsb() {
		if u.GetFlagged() == "jiggler" {
			signs = append(signs, fmt.Sprintf("USB %s:%s %q (%s)", u.GetVendorId(), u.GetProductId(), u.GetProduct(), u.GetMatchReason()))
		}
	}
	if len(signs) == 0 {
		return nil
	}
	return in.evidence(RuleJiggler, "A mouse jiggler keeps the laptop awake: "+strings.Join(signs, "; ")+".", nil)
}
