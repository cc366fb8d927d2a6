package analysis

import (
	"fmt"
	"slices"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleApplicantIdentityReuse, Class: ClassWeak, Source: SourceApplicant, Weight: 2.25,
		Applicant: identityReuse, Decay: applicantDecay,
		Doc: "one identity (the same name and a shared job) applies again with none of the same phones or emails"})
}

// identityReuse: operatives borrow a real engineer's name and history and
// apply with their own contacts, sometimes several times. An honest person
// who applies again keeps at least one phone or email most of the time; one
// who changed both is why this stays weak.
func identityReuse(c *applicantCase) *pb.Evidence {
	if c.e.name == "" || len(c.e.contacts) == 0 {
		return nil
	}
	var others []*applicantEntry
	for _, s := range c.x.names[c.e.name] {
		o := c.x.entries[s]
		if s == c.e.slot || !sameIdentity(c.e, o) || len(o.contacts) == 0 {
			continue
		}
		disjoint := true
		for _, k := range o.contacts {
			if slices.Contains(c.e.contacts, k) {
				disjoint = false
				break
			}
		}
		if disjoint {
			others = append(others, o)
		}
	}
	if len(others) == 0 {
		return nil
	}
	slices.SortFunc(others, func(a, b *applicantEntry) int { return strings.Compare(a.a.GetId(), b.a.GetId()) })
	var sets []string
	for _, o := range others {
		sets = append(sets, fmt.Sprintf("%s (%s)", o.a.GetId(), strings.Join(contactList(o), ", ")))
	}
	text := fmt.Sprintf("The same identity (name %q, a shared job) also applied as %s, with none of this application's phones or emails (%s).",
		c.e.a.GetName(), strings.Join(sets, "; "), strings.Join(contactList(c.e), ", "))
	return c.evidence(RuleApplicantIdentityReuse, 1, text, map[string]string{"others": ids(others),
		"contact_sets": fmt.Sprint(len(others) + 1)}, others...)
}

func contactList(e *applicantEntry) []string {
	out := make([]string, len(e.contacts))
	for i, k := range e.contacts {
		out[i] = k[strings.IndexByte(k, ':')+1:]
	}
	return out
}
