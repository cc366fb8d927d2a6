package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Applicant scenarios: honest lives that look odd, and planted schemes
// (docs/APPLICANTS.md).
const (
	ApplicantBackground = "background"        // ordinary applicants in US cities
	ApplicantRoommates  = "roommates"         // two people of one flat and network both apply
	ApplicantAgency     = "staffing-agency"   // a declared agency submits many candidates
	ApplicantRelocation = "relocation"        // moved to a new city, kept the old number
	ApplicantImmigrant  = "immigrant"         // US number written "+1 ...", foreign education and employers
	ApplicantCommonName = "common-name"       // different people with one name
	ApplicantColleagues = "colleagues"        // two from one team name the same manager as reference
	ApplicantRing       = "ring"              // a ring reusing addresses, phones and résumé fragments
	ApplicantBorrowed   = "borrowed-identity" // one real engineer's identity applying twice with other contacts
	ApplicantInstitute  = "institution-tie"   // a listed front company, transliterated
)

// ApplicantPlanted tells whether a scenario is one a reviewer must see.
func ApplicantPlanted(scenario string) bool {
	switch scenario {
	case ApplicantRing, ApplicantBorrowed, ApplicantInstitute:
		return true
	}
	return false
}

// ApplicantCase is one labelled application as an import delivers it:
// raw, not normalised.
type ApplicantCase struct {
	Scenario  string
	Applicant *pb.Applicant
}

// The declared staffing agency of the corpus: the suite's config declares
// it with these contacts and its network.
const (
	AgencyName    = "Lone Star Technical Staffing"
	AgencyDomain  = "lonestar-staffing.example"
	AgencyPhone   = "+12105550100"
	AgencyNetwork = "99.57.1.0/24" // its office line, San Antonio
)

// applicantCity is a claimed city with its area code, ZIP, zone and the
// residential network of geotest.DemoNetworks its people apply from.
type applicantCity struct {
	city, state, zip, area, zone, net string
}

var applicantCities = []applicantCity{
	{"Austin", "TX", "78704", "512", "America/Chicago", "70.112.1"},
	{"Seattle", "WA", "98103", "206", "America/Los_Angeles", "73.53.1"},
	{"Chicago", "IL", "60614", "312", "America/Chicago", "98.226.19"},
	{"Denver", "CO", "80205", "303", "America/Denver", "67.176.1"},
	{"New York", "NY", "10027", "212", "America/New_York", "72.229.1"},
	{"Raleigh", "NC", "27603", "919", "America/New_York", "174.109.17"},
	{"Atlanta", "GA", "30303", "404", "America/New_York", "73.207.1"},
}

// Names of many origins: the screening may never care which.
var (
	givenNames = []string{"James", "Maria", "Wei", "Aisha", "Olumide", "Priya", "Dmitri", "Sofia", "Hiroshi", "Fatima",
		"Carlos", "Mei", "Kwame", "Ingrid", "Rahul", "Elena", "Tomasz", "Nadia", "Jin-woo", "Lucia", "Oluwaseun", "Sven",
		"Ayesha", "Mateo", "Hana", "Yusuf", "Chloe", "Arjun", "Zainab", "Liam"}
	familyNames = []string{"Smith", "Garcia", "Zhang", "Okafor", "Patel", "Ivanova", "Nakamura", "Haddad", "Kowalski",
		"Nguyen", "Johansson", "Mensah", "Rossi", "Kim", "Hernandez", "Chen", "Adeyemi", "Sharma", "Novak", "O'Brien",
		"Park", "Fischer", "Moreau", "Ali", "Silva", "Cohen", "Tanaka", "Murphy", "Santos", "Lee"}
	streets   = []string{"Oak", "Maple", "Cedar", "Pine", "Elm", "Lakeview", "Hillcrest", "Sunset", "Park", "Washington", "Lincoln", "Riverside"}
	employers = []string{"Initech", "Globex", "Umbrella Health", "Hooli", "Vandelay Industries", "Stark Logistics",
		"Wayne Analytics", "Acme Robotics", "Cyberdyne Labs", "Soylent Foods", "Tyrell Data", "Wonka Retail",
		"Pied Piper", "Massive Dynamic", "Oscorp Energy", "Gringotts Bank", "Monarch Insurance", "Dunder Paper"}
	foreignEmployers = []string{"Infosys", "Samsung Electronics", "Yandex", "Tata Consultancy Services", "Naver", "Baidu", "Andela", "Wipro"}
	foreignSchools   = []string{"Tsinghua University", "Seoul National University", "University of Lagos",
		"Moscow State University", "Indian Institute of Technology Bombay", "Universidad de Buenos Aires", "Hanoi University of Science and Technology"}
	schools = []string{"University of Texas at Austin", "University of Washington", "Georgia Tech", "Ohio State University",
		"Rutgers University", "Arizona State University", "University of Michigan"}
	titles = []string{"Software Engineer", "Senior Software Engineer", "Machine Learning Engineer", "Data Engineer",
		"Backend Developer", "Platform Engineer", "ML Researcher"}

	verbs   = []string{"built", "designed", "led", "maintained", "migrated", "optimised", "shipped", "automated", "scaled", "rewrote", "owned", "tested"}
	objects = []string{"the billing service", "a recommendation model", "the data warehouse", "an internal dashboard", "the search ranking",
		"a fraud classifier", "the mobile backend", "our CI pipeline", "a feature store", "the payments API", "a labelling tool", "the ETL jobs"}
	tools    = []string{"Python", "Go", "Java", "Rust", "TypeScript", "PyTorch", "TensorFlow", "Kubernetes", "Kafka", "Postgres", "Spark", "Terraform", "AWS", "GCP"}
	outcomes = []string{"cutting latency by a third", "for four product teams", "serving two million users", "with a team of five",
		"ahead of the audit", "reducing cloud cost", "raising test coverage", "during a platform migration", "across three regions", "in under a quarter"}
)

// ApplicantCorpus generates the labelled corpus, the same for a seed.
func ApplicantCorpus(seed uint64) []ApplicantCase {
	g := &corpusGen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)), base: time.Date(2026, 2, 2, 15, 0, 0, 0, time.UTC)}
	g.background(300)
	g.roommates(6)
	g.agency(12)
	g.relocations(8)
	g.immigrants(8)
	g.commonNames()
	g.colleagues(3)
	g.rings()
	g.borrowed(3)
	g.institutions()
	return g.out
}

type corpusGen struct {
	r    *rand.Rand
	base time.Time
	n    int
	out  []ApplicantCase
	// person numbers keep names, phones, emails, flats and hosts distinct.
	person int
}

func (g *corpusGen) pick(l []string) string { return l[g.r.IntN(len(l))] }

// next numbers a new applicant.
func (g *corpusGen) next(scenario string, a *pb.Applicant) *pb.Applicant {
	g.n++
	a.Id = fmt.Sprintf("APP-%04d", g.n)
	a.AppliedAt = timestamppb.New(g.base.Add(time.Duration(g.n) * 7 * time.Hour))
	if a.Role == "" {
		a.Role = g.pick([]string{"Machine Learning Engineer", "Senior Backend Engineer", "AI Research Engineer", "Data Platform Engineer"})
	}
	g.out = append(g.out, ApplicantCase{Scenario: scenario, Applicant: a})
	return a
}

// person is an ordinary applicant living in city: a name of any origin,
// their own number (written in one of the usual domestic ways), email,
// flat, home network and a history of their own.
func (g *corpusGen) personIn(c applicantCity) *pb.Applicant {
	g.person++
	p := g.person
	given, family := givenNames[p%len(givenNames)], familyNames[(p/len(givenNames)+p*7)%len(familyNames)]
	name := fmt.Sprintf("%s %s", given, family)
	if p >= len(givenNames)*len(familyNames)/2 {
		name = fmt.Sprintf("%s %c. %s", given, 'A'+rune(p%26), family)
	}
	local := strings.ToLower(strings.NewReplacer(" ", ".", "'", "", "-", "").Replace(name))
	return &pb.Applicant{
		Name:              name,
		Emails:            []string{fmt.Sprintf("%s%d@%s", local, p, g.pick([]string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"}))},
		Phones:            []string{g.domesticPhone(c.area, p)},
		ClaimedAddress:    g.flat(c, p),
		WorkHistory:       g.history(employers, 2+g.r.IntN(2)),
		Education:         []*pb.EducationEntry{{Institution: g.pick(schools), Degree: "BS Computer Science", Start: "2012-09", End: "2016-05"}},
		ProfileUrls:       []string{fmt.Sprintf("https://www.linkedin.com/in/%s-%d", strings.ReplaceAll(local, ".", "-"), p)},
		SubmissionIp:      fmt.Sprintf("%s.%d", c.net, 1+p%250),
		InterviewTimeZone: c.zone,
		ResumeText:        g.resume(),
	}
}

// domesticPhone writes a number of the area code as people do at home.
func (g *corpusGen) domesticPhone(area string, p int) string {
	exch, line := 200+p%700, 1000+(p*37)%9000
	switch p % 3 {
	case 0:
		return fmt.Sprintf("(%s) %d-%04d", area, exch, line)
	case 1:
		return fmt.Sprintf("%s-%d-%04d", area, exch, line)
	}
	return fmt.Sprintf("%s.%d.%04d", area, exch, line)
}

func (g *corpusGen) flat(c applicantCity, p int) string {
	return fmt.Sprintf("%d %s %s, Apt %d, %s, %s %s", 100+p, g.pick(streets), g.pick([]string{"St", "Street", "Ave", "Avenue"}),
		1+p%40, c.city, c.state, c.zip)
}

func (g *corpusGen) history(from []string, n int) []*pb.WorkEntry {
	var out []*pb.WorkEntry
	year := 2016
	for range n {
		span := 1 + g.r.IntN(3)
		out = append(out, &pb.WorkEntry{Employer: g.pick(from), Title: g.pick(titles),
			Start: fmt.Sprintf("%d-%02d", year, 1+g.r.IntN(12)), End: fmt.Sprintf("%d-%02d", year+span, 1+g.r.IntN(12)),
			Description: g.sentence() + " " + g.sentence()})
		year += span
	}
	return out
}

func (g *corpusGen) sentence() string {
	return fmt.Sprintf("%s %s in %s and %s %s.", g.pick(verbs), g.pick(objects), g.pick(tools), g.pick(tools), g.pick(outcomes))
}

func (g *corpusGen) resume() string {
	var b strings.Builder
	for range 6 {
		b.WriteString(g.sentence())
		b.WriteByte(' ')
	}
	return b.String()
}

func (g *corpusGen) city() applicantCity { return applicantCities[g.r.IntN(len(applicantCities))] }

func (g *corpusGen) background(n int) {
	for range n {
		g.next(ApplicantBackground, g.personIn(g.city()))
	}
}

// roommates: two people of one flat apply from one home network.
func (g *corpusGen) roommates(pairs int) {
	for range pairs {
		c := g.city()
		a := g.personIn(c)
		b := g.personIn(c)
		b.ClaimedAddress = strings.ToUpper(a.GetClaimedAddress()) // one flat, spelt another way
		b.SubmissionIp = a.GetSubmissionIp()
		g.next(ApplicantRoommates, a)
		g.next(ApplicantRoommates, b)
	}
}

// agency: a declared agency submits candidates from its office, gives its
// recruiter's number and mailbox beside the candidate's, and wraps every
// résumé in its own header.
func (g *corpusGen) agency(n int) {
	header := "Candidate profile presented by " + AgencyName + ". Confidential: please contact the recruiter for references and availability. "
	for i := range n {
		a := g.personIn(g.city())
		a.Agency = AgencyName
		a.Phones = append(a.Phones, "(210) 555-0100")
		a.Emails = append(a.Emails, "submissions@"+AgencyDomain)
		a.SubmissionIp = fmt.Sprintf("99.57.1.%d", 10+i%3)
		a.ResumeText = header + a.GetResumeText()
		g.next(ApplicantAgency, a)
	}
}

// relocations: moved to a new city, kept the old number (its area code
// says the old state), applies from the new home.
func (g *corpusGen) relocations(n int) {
	for i := range n {
		from := applicantCities[1+i%3] // Seattle, Chicago, Denver
		to := applicantCities[0]
		a := g.personIn(to)
		a.Phones = []string{g.domesticPhone(from.area, g.person)}
		g.next(ApplicantRelocation, a)
	}
}

// immigrants: a US number written the international way, schools and
// earlier employers abroad.
func (g *corpusGen) immigrants(n int) {
	for range n {
		c := g.city()
		a := g.personIn(c)
		p := g.person
		a.Phones = []string{fmt.Sprintf("+1 %s %d %04d", c.area, 200+p%700, 1000+(p*37)%9000)}
		a.Education = []*pb.EducationEntry{{Institution: g.pick(foreignSchools), Degree: "MSc Computer Science", Start: "2010-09", End: "2014-06"}}
		a.WorkHistory = append(g.history(foreignEmployers, 1), a.GetWorkHistory()...)
		g.next(ApplicantImmigrant, a)
	}
}

// commonNames: different people, one name, their own lives.
func (g *corpusGen) commonNames() {
	for _, name := range []string{"Michael Smith", "Wei Zhang", "Maria Garcia"} {
		for range 3 {
			a := g.personIn(g.city())
			a.Name = name
			g.next(ApplicantCommonName, a)
		}
	}
}

// colleagues: two from one team name their manager as reference.
func (g *corpusGen) colleagues(pairs int) {
	for i := range pairs {
		ref := fmt.Sprintf("Dana Whitfield, dana.whitfield%d@initech.example", i)
		for range 2 {
			a := g.personIn(g.city())
			a.References = []string{ref}
			g.next(ApplicantColleagues, a)
		}
	}
}

// rings: members with names of their own and claimed homes across the
// country, whose laptops go to one facilitator's house; phones reused in
// pairs; résumés from one template with the employer and a sentence
// changed; applications sent through a US VPN.
func (g *corpusGen) rings() {
	for ring, size := range []int{4, 5} {
		facilitator := fmt.Sprintf("%d Saguaro Dr, Phoenix, AZ 85008", 4400+ring)
		template := g.resume() + " " + g.resume()
		var phone string
		for m := range size {
			a := g.personIn(g.city())
			a.ShippingAddress = facilitator
			if m%2 == 0 {
				phone = a.GetPhones()[0]
			} else {
				a.Phones = []string{phone}
			}
			a.ResumeText = template + " " + g.sentence()
			a.WorkHistory = []*pb.WorkEntry{{Employer: g.pick(employers), Title: "Machine Learning Engineer", Start: "2019-03", End: "2024-11",
				Description: "Trained and deployed large language models for customer support automation."}}
			a.SubmissionIp = fmt.Sprintf("23.230.105.%d", 20+m) // a US VPN exit: tells nothing of place
			g.next(ApplicantRing, a)
		}
	}
}

// borrowed: a real engineer's name and history, applied with the
// operatives' contacts twice, from abroad, interviews set in China's zone.
func (g *corpusGen) borrowed(n int) {
	froms := []string{"113.224.1", "175.45.177"}
	for range n {
		real := g.personIn(g.city())
		for k := range 2 {
			c := g.city()
			a := g.personIn(c)
			a.Name = real.GetName()
			if k == 1 {
				a.Name = strings.ToUpper(a.GetName())
			}
			a.WorkHistory, a.Education, a.ResumeText = real.GetWorkHistory(), real.GetEducation(), real.GetResumeText()
			a.ProfileUrls = real.GetProfileUrls()
			a.SubmissionIp = fmt.Sprintf("%s.%d", froms[k], 30+g.person%200)
			a.InterviewTimeZone = "Asia/Shanghai"
			g.next(ApplicantBorrowed, a)
		}
	}
}

// institutions: a listed front company in the history under another
// romanization, a Chinese number, interviews in China's zone.
func (g *corpusGen) institutions() {
	for _, employer := range []string{"Jinyong IT Cooperation Co., Ltd.", "Yanbian Silver Star Network Technology",
		"Shenyang Kumpungri Network Technology", "Korea So Baek Su Trading Co."} {
		a := g.personIn(g.city())
		a.WorkHistory = append([]*pb.WorkEntry{{Employer: employer, Title: "Software Developer", Start: "2017-04", End: "2021-08",
			Description: g.sentence()}}, a.GetWorkHistory()...)
		a.Phones = []string{fmt.Sprintf("+86 131 %04d %04d", 1000+g.person, 2000+g.person)}
		a.InterviewTimeZone = "Asia/Shanghai"
		g.next(ApplicantInstitute, a)
	}
}
