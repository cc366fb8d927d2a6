package analysis

import (
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Rule ids: DESIGN section 4's rules, the rules that read signals the
// agent collected since, the collector's view of the delivery, and the lines
// of a farm alert. Each is one rule_*.go file.
const (
	RuleCountryMismatch   = "geo.country_mismatch"
	RuleFarFromClaimed    = "geo.far_from_claimed"
	RuleHighRiskPeer      = "geo.high_risk_peer"
	RuleImpossibleTravel  = "geo.impossible_travel"
	RuleAnonymizer        = "net.anonymizer"
	RuleColocated         = "net.colocated"
	RuleRATPresent        = "rat.present"
	RuleRemoteSession     = "rat.remote_session"
	RuleIPKVM             = "hw.ip_kvm"
	RuleJiggler           = "hw.jiggler"
	RuleTZMismatch        = "locale.tz_mismatch"
	RuleInputMethod       = "locale.input_method"
	RuleOffHours          = "activity.off_hours"
	RuleShelfPattern      = "power.shelf_pattern"
	RuleSilent            = "agent.silent"
	RuleShippingMismatch  = "hire.shipping_mismatch"
	RulePhoneFormat       = "hire.phone_format"
	RuleHighRiskInstitute = "hire.high_risk_institution"
	RuleRTTMismatch       = "geo.rtt_mismatch"
	RuleIPZoneMismatch    = "locale.ip_zone_mismatch"
	RuleLostReports       = "agent.lost_reports"
	RuleSpoolReset        = "agent.spool_reset"
	RuleSeqJump           = "agent.seq_jump"
	RuleClonedIdentity    = "agent.cloned_identity"
	RuleOverBudget        = "agent.over_budget"
	RuleFarmNetwork       = "farm.shared_network"
	RuleFarmHomes         = "farm.claimed_homes"
	RuleFarmFar           = "farm.far_from_homes"
)

// Input is what a rule sees: the hire's claims, the device's state before
// this report, and the report.
type Input struct {
	Hire   *pb.Hire
	Report *pb.StoredReport
	State  *DeviceState
	Config *Config
	Now    time.Time
}

func (in Input) evidence(rule, text string, facts map[string]string) *pb.Evidence {
	return &pb.Evidence{Rule: rule, Weight: in.Config.Weights[rule], Explanation: text, Facts: facts}
}

// located is the report's public-IP location when it says something about
// where the laptop is: geolocatable and not the company's own egress.
func (in Input) located() *pb.IPLocation {
	loc := in.Report.GetLocation()
	if !loc.GetGeolocatable() || in.Config.companyEgress(in.Report.GetPublicIp()) {
		return nil
	}
	return loc
}

func place(loc *pb.IPLocation) string {
	parts := []string{}
	for _, p := range []string{loc.GetCity(), loc.GetRegion(), loc.GetCountry()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "an unknown place"
	}
	return strings.Join(parts, ", ")
}

func hireName(h *pb.Hire) string {
	if h.GetName() != "" {
		return h.GetName()
	}
	return "the hire"
}
