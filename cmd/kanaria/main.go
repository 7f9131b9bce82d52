// Command kanaria is a progressive delivery system: sticky, ppm-weighted
// canary and blue/green releases with its own router.
package main

import (
	"os"

	"github.com/kanaria-dev/kanaria/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[0], os.Args[1:]))
}
