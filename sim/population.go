package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// popCities are places the gazetteer knows, with an area code of each.
var popCities = []struct{ city, state, zip, area, zone string }{
	{"Austin", "TX", "78704", "512", "America/Chicago"},
	{"Seattle", "WA", "98101", "206", "America/Los_Angeles"},
	{"Chicago", "IL", "60601", "312", "America/Chicago"},
	{"Denver", "CO", "80202", "303", "America/Denver"},
	{"Boston", "MA", "02108", "617", "America/New_York"},
	{"Atlanta", "GA", "30303", "404", "America/New_York"},
	{"Phoenix", "AZ", "85004", "602", "America/Phoenix"},
	{"Portland", "OR", "97204", "503", "America/Los_Angeles"},
}

var popFirst = []string{"Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"}
var popLast = []string{"Lee", "Ortiz", "Nguyen", "Smith", "Kowalski", "Haddad", "Okafor", "Tanaka", "Garcia", "Müller", "Singh", "Rossi", "Cohen", "Park", "Silva", "Ivanova"}

// popWords is a vocabulary of 4,000 made-up words: résumés drawn from it
// share phrases by chance about as often as real ones do.
var popWords = func() []string {
	syl := strings.Fields("ka lo mi ne ru sa ti po ve da ge hu ri zo ba fe")
	var out []string
	for _, a := range syl {
		for _, b := range syl {
			for _, c := range syl {
				out = append(out, a+b+c)
			}
		}
	}
	return out[:4000]
}()

func popText(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = popWords[rng.IntN(len(popWords))]
	}
	return strings.Join(w, " ")
}

// ApplicantPopulation is n applicants for load tests (not the labelled
// corpus): a background of different people in eight US cities, each with a
// phone, an email, a flat, a submission IP, an employer and a 40-word résumé,
// and every 100th followed by a ring of four identities sharing a phone, a
// shipping address, a submission IP and a résumé. The same n gives the same
// applicants.
func ApplicantPopulation(n int) []*pb.Applicant {
	out := make([]*pb.Applicant, 0, n)
	_ = EachApplicant(n, func(a *pb.Applicant) error { out = append(out, a); return nil })
	return out
}

// EachApplicant hands ApplicantPopulation's applicants to fn one at a time,
// holding none of them: a file of a million rows is written in constant
// memory. It stops at fn's first error.
func EachApplicant(n int, fn func(*pb.Applicant) error) error {
	rng := rand.New(rand.NewPCG(17, 2026))
	count := 0
	for i := 0; count < n; i++ {
		c := popCities[rng.IntN(len(popCities))]
		a := &pb.Applicant{
			Id:                fmt.Sprintf("app-%07d", i),
			Name:              fmt.Sprintf("%s %s %d", popFirst[rng.IntN(len(popFirst))], popLast[rng.IntN(len(popLast))], i),
			Emails:            []string{fmt.Sprintf("person%d@example%d.com", i, i%97)},
			Phones:            []string{fmt.Sprintf("%s-%03d-%04d", c.area, 200+rng.IntN(700), rng.IntN(10000))},
			ClaimedAddress:    fmt.Sprintf("%d %s St, %s, %s %s", 1+i, popLast[rng.IntN(len(popLast))], c.city, c.state, c.zip),
			WorkHistory:       []*pb.WorkEntry{{Employer: fmt.Sprintf("Company %d", rng.IntN(5000)), Title: "Engineer", Start: "2018-01", End: "2024-01", Description: popText(rng, 12)}},
			Education:         []*pb.EducationEntry{{Institution: fmt.Sprintf("State University %d", rng.IntN(300)), Degree: "BS", Start: "2013-09", End: "2017-05"}},
			ResumeText:        popText(rng, 40),
			Role:              "Software Engineer",
			SubmissionIp:      fmt.Sprintf("23.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)),
			InterviewTimeZone: c.zone,
			AppliedAt:         timestamppb.New(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)),
		}
		if err := fn(a); err != nil {
			return err
		}
		if count++; i%100 == 99 { // a ring of four
			resume := popText(rand.New(rand.NewPCG(uint64(i), 4)), 40)
			for k := 0; k < 4 && count < n; k++ {
				r := &pb.Applicant{
					Id: fmt.Sprintf("ring-%07d-%d", i, k), Name: fmt.Sprintf("%s %s R%d%d", popFirst[(i+k)%len(popFirst)], popLast[(i+3*k)%len(popLast)], i, k),
					Emails:          []string{fmt.Sprintf("ring%d.%d@gmail.com", i, k)},
					Phones:          []string{fmt.Sprintf("+1 (415) %03d-%04d", 200+i%700, i%10000)},
					ClaimedAddress:  fmt.Sprintf("%d Pine St, Seattle, WA 98101", 100*k+i%97),
					ShippingAddress: fmt.Sprintf("%d Elm Ave Apt 3, Dallas, TX 75201", 1000+i),
					WorkHistory:     []*pb.WorkEntry{{Employer: fmt.Sprintf("Startup %d-%d LLC", i, k), Title: "ML Engineer", Start: "2020-01", End: "2024-06"}},
					ResumeText:      resume,
					Role:            "ML Engineer", SubmissionIp: fmt.Sprintf("45.%d.%d.%d", i>>16&255, i>>8&255, i&255),
					InterviewTimeZone: "America/Los_Angeles",
				}
				if err := fn(r); err != nil {
					return err
				}
				count++
			}
		}
	}
	return nil
}
