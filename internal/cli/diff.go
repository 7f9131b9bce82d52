package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/router/shadow"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newDiffCmd) }

func newDiffCmd() *cobra.Command {
	var f clientFlags
	var examples bool
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what the canary's answers to mirrored requests change",
		Long: `Shows the comparison of shadow traffic (a setMirror step or
spec.strategy.canary.mirror): per endpoint (method and normalised path) and
per field of the answer (status, compared headers, JSON fields by path such
as items[].price, other bodies by hash) how often the canary's answer
differed from stable's (candidate rate) and how often the baseline's did
(noise rate). A field is significant when the candidate rate exceeds the
noise by both thresholds; those come first. --examples prints the kept
request/answer pairs, with the configured headers and cookies redacted;
-o json prints everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, name, err := f.connect(cmd)
			if err != nil {
				return err
			}
			ab, ok := b.(apiBackend)
			if !ok {
				return errors.New("kanaria diff needs the control plane of `kanaria up`: in a cluster the router's comparison is not kept in the Rollout's status")
			}
			rep, err := ab.Diff(ctx, name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if ok, err := f.printData(out, rep); ok {
				return err
			}
			return printDiff(out, name, rep, examples)
		},
	}
	cmd.Flags().BoolVar(&examples, "examples", false, "print the kept examples of each significant field")
	f.register(cmd, true, true)
	return cmd
}

// printDiff writes the report as a header and a table of fields.
func printDiff(out io.Writer, name string, rep wire.DiffReport, examples bool) error {
	rv := rep.Revisions
	noise := "baseline " + rv.Secondary
	if rv.Secondary == "" {
		noise = "none (no baseline: noise is not measured)"
	}
	c := rep.Counters
	fmt.Fprintf(out, "rollout %s: canary %s vs stable %s, noise from %s, since %s\n", name, rv.Candidate, rv.Primary, noise, rep.Since.UTC().Format("15:04:05"))
	fmt.Fprintf(out, "compared %d (sampled %d, dropped %d, body too long %d, shadow errors %d); difference above noise %.2f%%\n",
		rep.Samples, c.Sampled, c.Dropped, c.SkippedBody, c.ShadowErrors, 100*rep.DifferenceAboveNoise)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tFIELD\tCANDIDATE\tNOISE\tSAMPLES\tSIGNIFICANT")
	rows := 0
	for _, e := range rep.Endpoints {
		for _, f := range e.Fields {
			sig := ""
			if f.Significant {
				sig = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.2f%%\t%d\t%s\n", e.Endpoint, f.Field, 100*f.CandidateRate, 100*f.NoiseRate, e.Samples, sig)
			rows++
		}
		if len(e.Fields) == 0 {
			fmt.Fprintf(tw, "%s\t(no differences)\t0.00%%\t0.00%%\t%d\t\n", e.Endpoint, e.Samples)
			rows++
		}
	}
	if rows == 0 {
		fmt.Fprintln(tw, "(nothing compared yet)\t\t\t\t\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if examples {
		for _, e := range rep.Endpoints {
			for _, f := range e.Fields {
				if f.Significant {
					printExamples(out, e.Endpoint, f)
				}
			}
		}
	}
	return nil
}

func printExamples(out io.Writer, endpoint string, f shadow.FieldReport) {
	for i, ex := range f.Examples {
		fmt.Fprintf(out, "\n%s %s, example %d: %s %s\n", endpoint, f.Field, i+1, ex.Method, ex.Target)
		for k, vs := range ex.Header {
			fmt.Fprintf(out, "  > %s: %s\n", k, strings.Join(vs, ", "))
		}
		answer := func(who string, a shadow.ExampleAnswer) {
			if a.Error != "" {
				fmt.Fprintf(out, "  %-9s no answer: %s\n", who, a.Error)
				return
			}
			fmt.Fprintf(out, "  %-9s %d %s\n", who, a.Status, a.Body)
		}
		answer("stable", ex.Primary)
		answer("canary", ex.Candidate)
		if ex.Secondary != nil {
			answer("baseline", *ex.Secondary)
		}
	}
}
