package applicants

import (
	"fmt"
	"sync"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestNormalizeConcurrently: the collector normalises an import's rows on
// every core, so Normalize must be safe for concurrent use, accented
// addresses included (a shared text transformer is not).
func TestNormalizeConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				a := &pb.Applicant{Id: fmt.Sprintf("c-%d-%d", g, i), Name: "Zoë Núñez",
					ClaimedAddress:  fmt.Sprintf("%d Rua São João Ñandú, Apartamento %d, Austin, TX 78704", i, g),
					ShippingAddress: fmt.Sprintf("%d Calle Peña, Austin, TX 78701", i)}
				Normalize(a)
				want := AddressKey(fmt.Sprintf("%d Rua Sao Joao Nandu, Apartamento %d, Austin, TX 78704", i, g))
				if a.GetAddressKey() != want {
					t.Errorf("address key %q, want %q", a.GetAddressKey(), want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
