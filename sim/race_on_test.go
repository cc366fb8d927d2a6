//go:build race

package sim_test

// raceEnabled: the race detector slows the suite's half a million
// analysed reports tenfold; under it only the hourly cadence runs (make test
// runs both cadences without it as well).
const raceEnabled = true
