package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newHistoryCmd) }

// historyPage is how many events one API call fetches (the server's cap).
const historyPage = 1000

func newHistoryCmd() *cobra.Command {
	var f clientFlags
	var after int64
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show a rollout's events, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, name, err := f.connect(cmd)
			if err != nil {
				return err
			}
			events := []wire.Event{}
			for cursor := after; ; {
				page, err := c.Events(ctx, name, cursor, historyPage)
				if err != nil {
					return err
				}
				events = append(events, page...)
				if len(page) < historyPage {
					break
				}
				cursor = page[len(page)-1].ID
			}
			out := cmd.OutOrStdout()
			if ok, err := f.printData(out, events); ok {
				return err
			}
			if len(events) == 0 {
				fmt.Fprintf(out, "rollout %s: no events yet\n", name)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tTYPE\tMESSAGE")
			for _, e := range events {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.ID, e.Time.Local().Format("2006-01-02 15:04:05"), e.Type, e.Message)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, true, true)
	cmd.Flags().Int64Var(&after, "after", 0, "only events with an ID greater than this")
	return cmd
}
