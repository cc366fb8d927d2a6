package server

// DefaultDeviceDailyBudget is the bytes of reports one device may add to the
// store per UTC day (store/budget.go). Measured: the densest report the
// agent's fixtures make takes 2,228 bytes stored (compressed, with its
// location), about 2.3 KB with its keys; at the default 5-minute interval
// that is 0.66 MB a day. An agent back from a week offline sends eight days'
// worth, 5.3 MB, and one whose spool is full (10,000 reports, 35 days) 23
// MB: 32 MiB takes either on the day it arrives, while one laptop that
// sends junk adds at most 32 MiB a day.
const DefaultDeviceDailyBudget = 32 << 20

// dailyBudget is the store's budget for a configured one.
func dailyBudget(configured int64) int64 {
	switch {
	case configured == 0:
		return DefaultDeviceDailyBudget
	case configured < 0:
		return 0 // none
	}
	return configured
}
