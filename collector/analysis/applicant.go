package analysis

// SKELETON: the signatures below are the contract the collector codes
// against; their bodies are written on the screening branch.

import (
	"net/netip"
	"time"

	"github.com/farmwatch/farmwatch/geo"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// KindApplicant is the alert kind of an applicant.
const KindApplicant = "applicant"

// ApplicantEnv is what screening needs from the collector.
type ApplicantEnv struct {
	// Config returns the analysis config in effect (it may change between
	// calls, e.g. after model fit --apply).
	Config func() *Config
	// Locate geolocates a submission IP; nil when there are no databases.
	Locate func(netip.Addr) geo.Location
}

// ApplicantIndex holds every stored applicant in memory, indexed for the
// cross-application rules. Safe for concurrent use.
type ApplicantIndex struct{}

// NewApplicantIndex makes an empty index.
func NewApplicantIndex(env ApplicantEnv) *ApplicantIndex { return &ApplicantIndex{} }

// Put adds or replaces a normalised applicant and returns the ids whose
// screening may have changed by it: its own, and those it shares (or
// shared, before a replace) anything with.
func (x *ApplicantIndex) Put(a *pb.Applicant) []string { return []string{a.GetId()} }

// Remove drops an applicant and returns the ids it was tied to.
func (x *ApplicantIndex) Remove(id string) []string { return nil }

// Len is how many applicants the index holds.
func (x *ApplicantIndex) Len() int { return 0 }

// ApplicantScreen is one applicant's screening.
type ApplicantScreen struct {
	Score    float64
	Evidence []*pb.Evidence
	// Related are the other applicants the evidence names.
	Related []string
}

// Screen scores one indexed applicant at now.
func (x *ApplicantIndex) Screen(id string, now time.Time) ApplicantScreen { return ApplicantScreen{} }

// ApplicantAlert updates prev (the applicant's open alert, or nil) with a
// screening: it returns the alert to store and true, or nil and false when
// the applicant has no alert and needs none (score under the alert
// threshold). A reviewed alert keeps its status; evidence that disappears
// (a tied applicant erased) lowers the score but the peak stays.
func ApplicantAlert(prev *pb.Alert, a *pb.Applicant, s ApplicantScreen, cfg *Config, now time.Time) (*pb.Alert, bool) {
	return nil, false
}
