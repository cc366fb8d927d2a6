//go:build !race

package applicants

const raceEnabled = false
