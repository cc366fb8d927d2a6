package analysis

import (
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

const ringResume = "Built scalable machine learning pipelines in Python and PyTorch for fraud detection at a fintech startup. " +
	"Led migration of monolith services to Kubernetes on AWS, cutting deployment time by sixty percent. " +
	"Designed real time data ingestion with Kafka and Spark streaming for ten million events a day. " +
	"Mentored junior engineers and owned the model serving platform with gRPC and Redis caching."

func TestApplicantSimilarHistory(t *testing.T) {
	edited := strings.Replace(ringResume, "sixty percent", "half", 1)
	other := "Maintained the billing system of a regional utility in Java and Oracle, wrote reports for the finance team, " +
		"and automated the nightly batch jobs with shell scripts and cron; later moved the team onto Git and Jenkins."
	runApplicantRule(t, RuleApplicantSimilarHistory, []applicantRuleCase{
		{name: "a copied résumé, lightly edited", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withResume(ringResume)),
			mkApplicant("A2", "Bo Park", withResume(edited))}, want: 1.25, says: "A2 (Bo Park) at"},
		{name: "three copies", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withResume(ringResume)),
			mkApplicant("A2", "Bo Park", withResume(edited)), mkApplicant("A3", "Cy Ode", withResume(ringResume))}, want: 1.875},
		{name: "different work", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withResume(ringResume)),
			mkApplicant("A2", "Bo Park", withResume(other))}},
		{name: "too short to call a copy", apps: []*pb.Applicant{mkApplicant("A1", "Ann Lee", withResume("Python developer at Acme")),
			mkApplicant("A2", "Bo Park", withResume("Python developer at Acme"))}},
		{name: "the same identity's two applications", apps: []*pb.Applicant{
			mkApplicant("A1", "Ann Lee", withResume(ringResume), withJob("Initech", "2021-02", "")),
			mkApplicant("A2", "Ann Lee", withResume(ringResume), withJob("Initech", "2021-02", ""))}},
	})
}

// TestMinHashEstimatesJaccard: the signature's estimate stays within four
// standard errors of the true similarity of the shingle sets.
func TestMinHashEstimatesJaccard(t *testing.T) {
	words := strings.Fields(ringResume + " " + ringResume)
	for _, cut := range []int{0, 10, 25, 40} {
		a := strings.Join(words[:60], " ")
		b := strings.Join(append(append([]string{}, words[:60-cut]...), strings.Fields(strings.Repeat("zz ", cut))...), " ")
		sa, sb := shingles(a), shingles(b)
		inter := 0
		set := map[uint64]bool{}
		for _, s := range sa {
			set[s] = true
		}
		union := len(set)
		for _, s := range sb {
			if set[s] {
				inter++
			} else {
				union++
			}
		}
		j := float64(inter) / float64(union)
		est := minhash(sa).similarity(minhash(sb))
		if d := est - j; d > 0.25 || d < -0.25 {
			t.Errorf("cut %d: estimate %.2f, true Jaccard %.2f", cut, est, j)
		}
	}
}

func TestApplicantIdentityReuse(t *testing.T) {
	job := withJob("Initech", "2019-06", "")
	runApplicantRule(t, RuleApplicantIdentityReuse, []applicantRuleCase{
		{name: "one identity, two contact sets", apps: []*pb.Applicant{
			mkApplicant("A1", "Daniel Ortiz", job, withUSPhone("+15125550101"), withEmail("dortiz@gmail.com", false)),
			mkApplicant("A2", "Ortiz, Daniel", job, withUSPhone("+15125550102"), withEmail("dan.ortiz.dev@gmail.com", false))},
			want: 2.25, says: "also applied as A2 (+15125550102, dan.ortiz.dev@gmail.com)"},
		{name: "applying again with the same email", apps: []*pb.Applicant{
			mkApplicant("A1", "Daniel Ortiz", job, withUSPhone("+15125550101"), withEmail("dortiz@gmail.com", false)),
			mkApplicant("A2", "Daniel Ortiz", job, withUSPhone("+15125550102"), withEmail("dortiz@gmail.com", false))}},
		{name: "a common name with another history", apps: []*pb.Applicant{
			mkApplicant("A1", "Daniel Ortiz", job, withUSPhone("+15125550101")),
			mkApplicant("A2", "Daniel Ortiz", withJob("Globex", "2015-01", ""), withUSPhone("+15125550102"))}},
		{name: "accents and case fold", apps: []*pb.Applicant{
			mkApplicant("A1", "José Müller", job, withUSPhone("+15125550101")),
			mkApplicant("A2", "JOSE MULLER", job, withUSPhone("+15125550102"))}, want: 2.25},
	})
}
