package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/internal/client"
	"github.com/kanaria-dev/kanaria/internal/wire"
)

func init() { addCommand(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var f clientFlags
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a rollout: phase, step, weights",
		Long: "Show a rollout's phase, step and weights. With -w, keep watching until\n" +
			"interrupted: on a terminal a live view redraws in place (step progress, weights,\n" +
			"requests/s, error rate and p99 per version, the last verdict and event); piped,\n" +
			"one line per change; with -o json|yaml, one document per change.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, name, err := f.connect(cmd)
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
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep watching: a live view on a terminal, one line or document per change otherwise")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often -w polls")
	return cmd
}

// printView prints one rollout in the chosen format. In a watch, JSON is one
// compact line per change (easy to pipe) and YAML documents are separated.
func (f *clientFlags) printView(w io.Writer, v wire.RolloutView, inWatch bool) error {
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

// watch polls until ctx ends and shows the rollout as it changes. Errors are
// shown, not returned: the control plane may be restarting, and the release
// resumes where it was. Only a first failure (wrong name or token) ends it.
func (f *clientFlags) watch(ctx context.Context, c backend, name string, every time.Duration, out, errw io.Writer) error {
	if every <= 0 {
		every = time.Second
	}
	if f.output == "json" || f.output == "yaml" {
		return f.watchData(ctx, c, name, every, out, errw)
	}
	hist := true // until the control plane says it keeps no history (a cluster keeps none)
	tty := isTerminal(out)
	var s liveState
	var afterID int64
	var lastFrame, lastKey string
	prevLines := 0
	tick := time.NewTicker(every)
	defer tick.Stop()
	for first := true; ; first = false {
		v, err := c.Get(ctx, name)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && first:
			return err
		case err != nil:
			s.Problem = err.Error()
		default:
			s.View, s.Problem = v, ""
			afterID = s.readEvents(ctx, c, name, afterID)
			if hb, ok := c.(historyBackend); ok && hist {
				pts, err := hb.History(ctx, name, time.Now().Add(-(metricsWindow+3)*time.Second))
				switch {
				case client.IsNotFound(err):
					hist, s.Metrics = false, nil
				case err == nil:
					s.Metrics = metricsFrom(pts)
				}
			}
		}
		if tty {
			if frame := renderLive(s); frame != lastFrame {
				if prevLines > 0 {
					// Back to the top of the last frame and clear below:
					// the view redraws in place instead of scrolling.
					fmt.Fprintf(out, "\x1b[%dA\r\x1b[J", prevLines)
				}
				io.WriteString(out, frame)
				prevLines, lastFrame = strings.Count(frame, "\n"), frame
			}
		} else if key := plainKey(s); key != lastKey {
			// Metrics alone change every second; a line per second would
			// bury the changes a log reader looks for.
			fmt.Fprintln(out, plainLive(s, time.Now()))
			lastKey = key
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// readEvents fetches the events after afterID, keeping the newest one and
// the newest verdict; it returns the new afterID. Failures leave it as is.
func (s *liveState) readEvents(ctx context.Context, c backend, name string, afterID int64) int64 {
	const page = 1000
	for range 100 { // bounded: at most 100k events at the first poll
		evs, err := c.Events(ctx, name, afterID, page)
		if err != nil || len(evs) == 0 {
			return afterID
		}
		for i := range evs {
			e := evs[i]
			s.LastEvent = &e
			if isVerdict(e.Type) {
				s.LastVerdict = &e
			}
		}
		afterID = evs[len(evs)-1].ID
		if len(evs) < page {
			break
		}
	}
	return afterID
}

// isVerdict picks out analysis results among the events.
func isVerdict(eventType string) bool {
	return strings.HasPrefix(eventType, "Analysis") || strings.Contains(eventType, "Verdict")
}

// plainKey is what must change for a piped watch to print a new line.
func plainKey(s liveState) string {
	b, _ := json.Marshal(s.View)
	var id int64
	if s.LastEvent != nil {
		id = s.LastEvent.ID
	}
	return fmt.Sprintf("%s|%d|%s", b, id, s.Problem)
}

// watchData prints one JSON line or YAML document per change, for scripts.
func (f *clientFlags) watchData(ctx context.Context, c backend, name string, every time.Duration, out, errw io.Writer) error {
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

// isTerminal reports whether w is a terminal, where redrawing in place works.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
