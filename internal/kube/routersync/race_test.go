//go:build race

package routersync_test

// raceEnabled: the test binary is built with -race, so the router binary
// under test is too, and a data race in a replica fails the test.
const raceEnabled = true
