package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/server"
)

func init() { addCommand(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var f clientFlags
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a rollout: phase, step, weights",
		Long: "Show a rollout's phase, step and weights. With -w, keep polling and print the\n" +
			"status again whenever it changes, until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := f.client()
			if err != nil {
				return err
			}
			name, err := f.rolloutName(ctx, c)
			if err != nil {
				return err
			}
			if !watch {
				v, err := c.Get(ctx, name)
				if err != nil {
					return err
				}
				return f.printView(cmd.OutOrStdout(), v, false)
			}
			return f.watch(ctx, c, name, interval, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd, true, true)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep watching; print again on every change")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often -w polls")
	return cmd
}

// printView prints one rollout in the chosen format. In a watch, JSON is one
// compact line per change (easy to pipe) and YAML documents are separated.
func (f *clientFlags) printView(w io.Writer, v server.RolloutView, inWatch bool) error {
	switch {
	case inWatch && f.output == "json":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case inWatch && f.output == "yaml":
		fmt.Fprintln(w, "---")
	}
	if ok, err := f.printData(w, v); ok {
		return err
	}
	return printStatus(w, v)
}

// watch polls until ctx ends and prints the rollout whenever it changed.
// Errors are printed, not returned: the control plane may be restarting,
// and the release resumes where it was.
func (f *clientFlags) watch(ctx context.Context, c *client.Client, name string, every time.Duration, out, errw io.Writer) error {
	if every <= 0 {
		every = time.Second
	}
	var last []byte
	var lastErr string
	tick := time.NewTicker(every)
	defer tick.Stop()
	for first := true; ; first = false {
		v, err := c.Get(ctx, name)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && first:
			return err // a wrong name or token will not fix itself
		case err != nil:
			if err.Error() != lastErr {
				fmt.Fprintf(errw, "%s  %v\n", time.Now().Format("15:04:05"), err)
				lastErr = err.Error()
			}
		default:
			lastErr = ""
			cur, _ := json.Marshal(v)
			if !bytes.Equal(cur, last) {
				if f.output == "table" && last != nil {
					fmt.Fprintln(out)
				}
				if f.output == "table" {
					fmt.Fprintf(out, "%s\n", time.Now().Format("15:04:05"))
				}
				if err := f.printView(out, v, true); err != nil {
					return err
				}
				last = cur
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
