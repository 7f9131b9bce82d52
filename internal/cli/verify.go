package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/verify"
)

func init() { addCommand(newVerifyCmd) }

// verifyFromControlPlane fills what the user did not give (the router's URL,
// the revisions and the expected canary weight) from a running control
// plane's API or a cluster's Rollout. Explicit flags are left alone; without
// --url a control plane is required (a cluster's Rollout does not say where
// its router is reached from here).
func verifyFromControlPlane(cmd *cobra.Command, cf *clientFlags, o *verify.Options) error {
	changed := cmd.Flags().Changed
	if o.URL != "" && changed("expect-canary") && changed("canary-revision") && changed("stable-revision") {
		return nil
	}
	c, err := cf.backend(cmd)
	if err != nil {
		if o.URL == "" {
			return fmt.Errorf("--url not given, and %w", err)
		}
		return nil
	}
	ctx := cmd.Context()
	name, err := cf.rolloutName(ctx, c)
	if err != nil {
		return err
	}
	v, err := c.Get(ctx, name)
	if err != nil {
		return err
	}
	if o.URL == "" && v.RouterURL != "" {
		o.URL = strings.TrimSuffix(v.RouterURL, "/") + "/"
	}
	if o.URL == "" {
		// A cluster's router is behind its Service: only the user knows
		// how it is reached from here.
		return fmt.Errorf("--url is required: %s does not know the router's address (in a cluster, e.g. kubectl port-forward -n kanaria-system svc/kanaria-router 8080:80, then --url http://127.0.0.1:8080/)", c.where())
	}
	if !changed("stable-revision") {
		o.StableRevision = v.Status.StableRevision
	}
	if !changed("canary-revision") && v.Status.CanaryRevision != "" {
		o.CanaryRevision = v.Status.CanaryRevision
	}
	if !changed("expect-canary") && v.Status.CanaryRevision != "" {
		o.ExpectCanaryPct = float64(v.Status.Weights.CanaryPPM) * 100 / v1alpha1.PPM
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "verify: rollout %s via %s: stable %s, canary %s at %s\n", name, o.URL,
		o.StableRevision, orNone(o.CanaryRevision), v.Status.Weights.CanaryPPM)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// verifyMismatchError is returned when verify measured but found a mismatch;
// cli.Main turns its ExitCode into the process status, so scripts can tell
// "the release is wrong" (2) from "verify could not run" (1).
type verifyMismatchError struct{ summary string }

// Error repeats the summary, so the figures are the last line a terminal
// shows even after Main prints the error.
func (e verifyMismatchError) Error() string { return e.summary }

// ExitCode is 2: a measured mismatch.
func (e verifyMismatchError) ExitCode() int { return 2 }

func newVerifyCmd() *cobra.Command {
	o := verify.Options{ExpectCanaryPct: verify.UnknownPct}
	var total time.Duration
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Send real requests through the router; check the canary share and stickiness",
		Long: `Send a bounded number of real requests to the router without cookies and
print the share each revision served, with a 95% Wilson interval. With
--expect-canary the check passes when the expected share lies inside the 99.9%
Wilson interval (so a correct weight fails about 1 run in 1000). Then check
stickiness: --users users, each sending --per-user requests with its own
cookie jar, must each see one revision.

Progress goes to stderr; the last line on stdout is the summary. Exit status:
0 all checks passed, 2 a mismatch was measured, 1 verify could not run.`,
		Example: `  kanaria verify --url http://127.0.0.1:8080/ --requests 2000 --expect-canary 5
  kanaria verify --url http://127.0.0.1:8080/ --canary-revision v2 --users 100 --per-user 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("expect-canary") {
				o.ExpectCanaryPct = verify.UnknownPct
			} else if o.ExpectCanaryPct < 0 {
				return fmt.Errorf("--expect-canary %v: must be a percentage between 0 and 100", o.ExpectCanaryPct)
			}
			if err := verifyFromControlPlane(cmd, &cf, &o); err != nil {
				return err
			}
			if o.URL == "" {
				return errors.New("--url is required: the address of kanaria's router, e.g. http://127.0.0.1:8080/")
			}
			ctx := cmd.Context()
			if total > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, total)
				defer cancel()
			}
			res, err := verify.Run(ctx, o, cmd.ErrOrStderr())
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
					return fmt.Errorf("verify: did not finish within --total-timeout %v", total)
				}
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
			if !res.OK() {
				return verifyMismatchError{res.Summary()}
			}
			return nil
		},
	}
	cf.register(cmd, true, false)
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "address of kanaria's router (default: from the running control plane)")
	f.IntVar(&o.Requests, "requests", verify.DefaultRequests, "cookie-less requests for the split")
	f.Float64Var(&o.ExpectCanaryPct, "expect-canary", 0, "expected canary share in percent (e.g. 5 or 0.1); omit to only report")
	f.StringVar(&o.CanaryRevision, "canary-revision", "", "canary revision name (default: inferred from the shares)")
	f.StringVar(&o.StableRevision, "stable-revision", "", "stable revision name (default: inferred from the shares)")
	f.IntVar(&o.Users, "users", verify.DefaultUsers, "users in the stickiness check, each with its own cookie jar")
	f.IntVar(&o.PerUser, "per-user", verify.DefaultPerUser, "requests per user in the stickiness check")
	f.IntVar(&o.Concurrency, "concurrency", verify.DefaultConcurrency, "requests in flight at once")
	f.DurationVar(&o.Timeout, "timeout", verify.DefaultTimeout, "timeout of each request")
	f.DurationVar(&total, "total-timeout", 5*time.Minute, "bound on the whole run (0: none beyond the per-request timeouts)")
	f.StringVar(&o.VersionHeader, "version-header", verify.DefaultVersionHeader, "response header naming the serving revision")
	return cmd
}
