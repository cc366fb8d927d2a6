package analysis

import (
	"fmt"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleAnonymizer, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: anonymizer,
		Decay: Decay{Hold: 24 * time.Hour, Fade: 24 * time.Hour},
		Doc:   "an up VPN interface (not the company's), a catalogued VPN client running or with its interface (not the company's, `allow.tools`), or a public IP in a hosting or VPN network"})
}

// anonymizer: a VPN interface or client, or a public IP in a hosting or VPN
// network.
func anonymizer(in Input) *pb.Evidence {
	if in.Config.companyEgress(in.Report.GetPublicIp()) {
		return nil
	}
	r := in.Report.GetReport()
	var signs []string
	facts := map[string]string{}
	for _, i := range r.GetNetwork().GetInterfaces() {
		if i.GetKind() == "vpn" && i.GetUp() && !in.Config.companyVPNInterface(i.GetName()) {
			signs = append(signs, "VPN interface "+i.GetName())
			facts["interface."+i.GetName()] = "vpn"
		}
	}
	for _, v := range r.GetVpnClients() {
		if in.Config.toolAllowed(v.GetToolId()) || installedOnly(v) {
			continue
		}
		signs = append(signs, "VPN client "+v.GetName())
		// The process, or for a client seen by its interface alone, that.
		what := v.GetProcess()
		if what == "" {
			what = strings.Join(v.GetInterfaces(), ",")
		}
		facts["vpn_client."+v.GetToolId()] = what
	}
	if a := in.Report.GetLocation().GetAnonymizer(); a != "" {
		signs = append(signs, fmt.Sprintf("public IP %s in a %s network (AS%d %s)", in.Report.GetPublicIp(), a,
			in.Report.GetLocation().GetAsn(), in.Report.GetLocation().GetAsOrg()))
		facts["network"] = a
	}
	if len(signs) == 0 {
		return nil
	}
	return in.evidence(RuleAnonymizer, "The laptop hides its path: "+strings.Join(signs, "; ")+".", facts)
}

// installedOnly tells a VPN client that is installed but neither runs nor
// has an interface: it hides nothing now. An entry without seen (an agent
// that did not say) counts as running.
func installedOnly(v *pb.ToolMatch) bool {
	seen := v.GetSeen()
	return len(seen) == 1 && seen[0] == "installed"
}
