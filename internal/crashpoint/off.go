//go:build !crashpoint

package crashpoint

// Reach does nothing: crash points exist only in `-tags crashpoint` builds.
func Reach(string) {}
