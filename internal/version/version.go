// Package version holds kanaria's version string, so the CLI and the control
// plane report the same one.
package version

import "runtime/debug"

// Version is set at build time:
//
//	go build -ldflags "-X github.com/kanaria-dev/kanaria/internal/version.Version=v0.1.0" ./cmd/kanaria
var Version = "dev"

// String is Version, or the module version recorded by `go install
// ...@vX.Y.Z` when no -ldflags set one, so installed binaries never just say
// "dev".
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}
