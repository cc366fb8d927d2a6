//go:build race

package applicants

// The race detector slows every row some tenfold; the streaming test reads
// fewer rows under it.
const raceEnabled = true
