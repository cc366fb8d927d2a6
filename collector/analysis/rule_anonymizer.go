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
		Doc:   "an up VPN interface (not the company's), a catalogued VPN client, or a public IP in a hosting or VPN network"})
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
		signs = append(signs, "VPN client "+v.GetName())
		facts["vpn_client."+v.GetToolId()] = v.GetProcess()
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
