//go:build !race

package routersync_test

// raceEnabled: see race_test.go.
const raceEnabled = false
