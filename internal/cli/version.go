package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/version"
)

func init() { addCommand(newVersionCmd) }

// versionInfo is what `kanaria version -o json|yaml` prints.
type versionInfo struct {
	Client string `json:"client"`
	Server string `json:"server,omitempty"`
	APIURL string `json:"apiURL,omitempty"`
	// ServerError says why the server's version is missing.
	ServerError string `json:"serverError,omitempty"`
}

func newVersionCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of this CLI and of the running control plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vi := versionInfo{Client: version.String()}
			// The client's version is always printed: a missing control
			// plane is information here, not a failure.
			c, err := f.client()
			if err == nil {
				i, ierr := c.Info(cmd.Context())
				if ierr == nil {
					vi.Server, vi.APIURL = i.Version, c.BaseURL()
				}
				err = ierr
			}
			if err != nil {
				if cerr := f.checkOutput(); cerr != nil {
					return cerr
				}
				vi.ServerError = err.Error()
			}
			out := cmd.OutOrStdout()
			if ok, err := f.printData(out, vi); ok {
				return err
			}
			fmt.Fprintf(out, "client: %s\n", vi.Client)
			if vi.ServerError != "" {
				fmt.Fprintf(out, "server: unknown (%s)\n", vi.ServerError)
			} else {
				fmt.Fprintf(out, "server: %s (%s)\n", vi.Server, vi.APIURL)
			}
			return nil
		},
	}
	f.register(cmd, false, true)
	return cmd
}
