//go:build race

package controller_test

// Under `go test -race` the controller and router processes the tests run
// are built with the race detector too, so a data race in them fails the
// test (the race detector makes the process exit non-zero, and its report
// is in the process's log).
func init() { buildFlags = append(buildFlags, "-race") }
