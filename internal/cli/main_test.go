package cli

import (
	"os"
	"testing"

	"github.com/kanaria-dev/kanaria/internal/testenv/binary"
)

// TestMain removes the kanaria binary that the tests running it as a real
// process (the router command, the kubectl plugin) build once.
func TestMain(m *testing.M) { os.Exit(binary.Main(m)) }
