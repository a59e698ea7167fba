//go:build !race

package testbin

// raceEnabled reports whether this binary was built with the race detector.
const raceEnabled = false
