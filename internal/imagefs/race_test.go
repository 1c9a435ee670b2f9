//go:build race

package imagefs_test

// The race detector makes sync.Pool drop buffers at random: allocation
// counts are not the reader's then.
func init() { raceEnabled = true }
