package verify

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// RevisionShare is one revision's part of the cookie-less requests.
type RevisionShare struct {
	Revision string
	Count    int
	Pct      float64
}

// Result holds a run's figures. Percentages are 0..100.
type Result struct {
	URL           string
	VersionHeader string

	// Labelled responses carried the version header: the denominator of
	// every share. Unlabelled ones did not; Errors got no response at all.
	Labelled, Unlabelled, Errors int
	// Shares lists every revision served, most served first.
	Shares []RevisionShare
	// StableRevision and CanaryRevision as given or, if Inferred, guessed
	// from the shares. CanaryRevision is "" when no canary was seen.
	StableRevision, CanaryRevision string
	Inferred                       bool
	CanaryCount                    int
	CanaryPct                      float64
	// CI95 is printed; CI999 decides (see the package doc).
	CI95, CI999 Interval
	// ExpectedPct is negative when unknown, and then SplitChecked is false.
	ExpectedPct  float64
	SplitChecked bool
	SplitOK      bool

	// Stickiness: Users × PerUser requests, each user with a cookie jar.
	Users, PerUser int
	// StableUsers saw exactly one revision; SwitchedUsers saw more than one.
	StableUsers, SwitchedUsers int
	// ErroredUsers had a failed request; UnlabelledUsers got a response
	// without the version header. Neither counts as stable.
	ErroredUsers, UnlabelledUsers int
	// UsersWithCookie received a cookie: the router's sticky key.
	UsersWithCookie int
	// UsersByRevision counts users by the first revision they saw.
	UsersByRevision map[string]int
	StickyOK        bool
}

// OK reports whether both the split and stickiness passed.
func (r Result) OK() bool { return r.SplitOK && r.StickyOK }

// fillSplit computes shares, picks the canary and judges the split.
func (r *Result) fillSplit(d splitData, o Options) {
	r.Unlabelled, r.Errors = d.unlabelled, d.errors
	for rev, n := range d.counts {
		r.Labelled += n
		r.Shares = append(r.Shares, RevisionShare{Revision: rev, Count: n})
	}
	sort.Slice(r.Shares, func(i, j int) bool {
		if r.Shares[i].Count != r.Shares[j].Count {
			return r.Shares[i].Count > r.Shares[j].Count
		}
		return r.Shares[i].Revision < r.Shares[j].Revision
	})
	for i := range r.Shares {
		r.Shares[i].Pct = 100 * float64(r.Shares[i].Count) / float64(max(r.Labelled, 1))
	}
	r.StableRevision, r.CanaryRevision, r.Inferred = pickRevisions(r.Shares, o.StableRevision, o.CanaryRevision, o.ExpectCanaryPct)
	if r.CanaryRevision != "" {
		r.CanaryCount = d.counts[r.CanaryRevision]
	}
	r.CanaryPct = 100 * float64(r.CanaryCount) / float64(max(r.Labelled, 1))
	r.CI95 = Wilson(r.CanaryCount, r.Labelled, Z95)
	r.CI999 = Wilson(r.CanaryCount, r.Labelled, Z999)
	r.SplitChecked = o.ExpectCanaryPct >= 0
	// The router's contract is a version header on every response, so a
	// response without it is a failure in itself, whatever the shares say.
	r.SplitOK = r.Unlabelled == 0 && (!r.SplitChecked || r.CI999.Contains(o.ExpectCanaryPct))
}

// pickRevisions fills in whichever of stable and canary was not given. The
// most served revision is taken as stable and the next as canary, except
// when the expected canary share is above 50 %, where the roles swap: a
// guess, flagged as inferred, for when the caller knows only the weight.
func pickRevisions(shares []RevisionShare, stable, canary string, expected float64) (string, string, bool) {
	inferred := false
	others := func(skip string) []string {
		var l []string
		for _, s := range shares {
			if s.Revision != skip {
				l = append(l, s.Revision)
			}
		}
		return l
	}
	switch {
	case stable == "" && canary == "":
		l := others("")
		if expected > 50 {
			if len(l) > 0 {
				canary = l[0]
			}
			if len(l) > 1 {
				stable = l[1]
			}
		} else {
			if len(l) > 0 {
				stable = l[0]
			}
			if len(l) > 1 {
				canary = l[1]
			}
		}
		inferred = true
	case canary == "":
		if l := others(stable); len(l) > 0 {
			canary = l[0]
		}
		inferred = true
	case stable == "":
		if l := others(canary); len(l) > 0 {
			stable = l[0]
		}
	}
	return stable, canary, inferred
}

// fillStickiness tallies what each user saw.
func (r *Result) fillStickiness(d stickyData) {
	r.Users = len(d.users)
	r.UsersByRevision = map[string]int{}
	for _, u := range d.users {
		if u.gotCookie {
			r.UsersWithCookie++
		}
		if len(u.revisions) > 0 {
			r.UsersByRevision[u.revisions[0]]++
		}
		switch {
		case len(u.revisions) > 1:
			r.SwitchedUsers++
		case u.errors > 0:
			r.ErroredUsers++
		case u.unlabelled > 0:
			r.UnlabelledUsers++
		default:
			r.StableUsers++
		}
	}
	r.StickyOK = r.Users > 0 && r.StableUsers+r.ErroredUsers == r.Users && r.StableUsers > 0
}

func (r Result) reportSplit(w io.Writer) {
	var parts []string
	for _, s := range r.Shares {
		parts = append(parts, fmt.Sprintf("%s %d (%.2f%%)", s.Revision, s.Count, s.Pct))
	}
	fmt.Fprintf(w, "  served: %s\n", strings.Join(parts, ", "))
	if r.Unlabelled > 0 {
		fmt.Fprintf(w, "  %d responses had no %s header\n", r.Unlabelled, r.VersionHeader)
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, "  %d requests failed (within the 1%% budget)\n", r.Errors)
	}
	if r.Inferred {
		fmt.Fprintf(w, "  revisions inferred from the shares: stable %s, canary %s (name them with --stable-revision/--canary-revision)\n",
			orNone(r.StableRevision), orNone(r.CanaryRevision))
	}
	if r.SplitChecked {
		verdict := "inside: OK"
		if !r.CI999.Contains(r.ExpectedPct) {
			verdict = "outside: FAIL"
		}
		fmt.Fprintf(w, "  expected %.2f%% vs 99.9%% interval %s–%s%%: %s\n", r.ExpectedPct, pct(r.CI999.LowPct), pct(r.CI999.HighPct), verdict)
	}
}

func (r Result) reportStickiness(w io.Writer) {
	var parts []string
	for _, s := range r.Shares {
		parts = append(parts, fmt.Sprintf("%s %d", s.Revision, r.UsersByRevision[s.Revision]))
	}
	for rev, n := range r.UsersByRevision {
		if !containsShare(r.Shares, rev) {
			parts = append(parts, fmt.Sprintf("%s %d", rev, n))
		}
	}
	fmt.Fprintf(w, "  users by revision: %s; %d switched, %d with a failed request, %d got a cookie\n",
		strings.Join(parts, ", "), r.SwitchedUsers, r.ErroredUsers, r.UsersWithCookie)
	if r.SwitchedUsers > 0 && r.UsersWithCookie == 0 {
		fmt.Fprintln(w, "  no user received a cookie: is the router's sticky cookie disabled, or is the key a header?")
	}
}

func containsShare(s []RevisionShare, rev string) bool {
	for _, x := range s {
		if x.Revision == rev {
			return true
		}
	}
	return false
}

// Summary is the one line verify ends with, holding the figures, e.g.
//
//	verify: canary v2 4.98% of 2000 (95% CI 4.1–6.0%, expected 5.00%) OK; stickiness 50/50 users stable OK
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verify: canary %s %.2f%% of %d (95%% CI %s–%s%%, ", orNone(r.CanaryRevision), r.CanaryPct, r.Labelled,
		pct(r.CI95.LowPct), pct(r.CI95.HighPct))
	if r.SplitChecked {
		fmt.Fprintf(&b, "expected %.2f%%) %s", r.ExpectedPct, okFail(r.CI999.Contains(r.ExpectedPct)))
	} else {
		b.WriteString("no expected weight given)")
	}
	if r.Unlabelled > 0 {
		fmt.Fprintf(&b, "; %d responses without %s FAIL", r.Unlabelled, r.VersionHeader)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "; %d request errors", r.Errors)
	}
	fmt.Fprintf(&b, "; stickiness %d/%d users stable", r.StableUsers, r.Users)
	if r.SwitchedUsers > 0 {
		fmt.Fprintf(&b, ", %d switched", r.SwitchedUsers)
	}
	if r.UnlabelledUsers > 0 {
		fmt.Fprintf(&b, ", %d without header", r.UnlabelledUsers)
	}
	if r.ErroredUsers > 0 {
		fmt.Fprintf(&b, ", %d errored", r.ErroredUsers)
	}
	b.WriteString(" " + okFail(r.StickyOK))
	// When every user landed on one revision (a tiny or zero weight) no
	// user could have been moved between revisions by a sticky router, and
	// a broken one would rarely show it: say so rather than let "OK"
	// suggest stickiness was really exercised.
	if r.StickyOK && len(r.UsersByRevision) < 2 {
		b.WriteString(" (all users on one revision: not informative)")
	}
	return b.String()
}

func okFail(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAIL"
}

func orNone(rev string) string {
	if rev == "" {
		return "(none seen)"
	}
	return rev
}

// pct formats an interval end with one decimal, or two below 1 %, where one
// decimal would print a 0.1 % weight's interval as "0.0–0.3".
func pct(x float64) string {
	if x < 1 {
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.1f", x)
}
