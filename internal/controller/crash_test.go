package controller_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// resumeSteps: two pauses for promote around a timed one.
func resumeSteps() []v1alpha1.Step {
	return []v1alpha1.Step{
		{SetWeight: weight(20)},
		{Pause: &v1alpha1.Pause{}},
		{SetWeight: weight(40)},
		{Pause: &v1alpha1.Pause{Duration: duration(3 * time.Second)}},
		{SetWeight: weight(60)},
		{Pause: &v1alpha1.Pause{}},
	}
}

// testResume: the controller is killed with SIGKILL twice in one release,
// once while it waits for promote and once in a timed pause; each new
// process carries on at the same step: the copy is never made anew (its
// pods never restart), no step is entered twice, and the timed pause ends
// when it was due, not later and not from the start.
func testResume(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 4, "v1")
	n.createRollout("web", canarySpec("web", resumeSteps()...))
	a := n.startController("a")
	n.healthy("web")
	n.setRevision("web", "v2")
	n.waitStep("web", v1alpha1.PhasePaused, "2/6")
	n.waitEvent("web", "Paused", "step 2/6")
	cp := n.copyReplicas("web-canary", 1)

	a.kill()
	b := n.startController("b")
	n.command("web", "promote", "p1")
	st := n.waitStep("web", v1alpha1.PhaseProgressing, "4/6")
	pauseFrom := st.StepStartedAt
	n.waitEvent("web", "StepReached", "step 4/6")
	b.kill()
	// The pause runs on while no controller runs.
	n.startController("c")
	st = n.waitStep("web", v1alpha1.PhasePaused, "6/6")
	if st.LastCommand != "p1" || st.Weights.CanaryPPM != *weight(60) {
		t.Errorf("after the restarts: %+v", st)
	}
	// 60 % beside 4 stable pods would be 6; the replicas provider never
	// gives the canary more pods than stable has.
	after := n.copyReplicas("web-canary", 4)
	if after.UID != cp.UID || !equality.Semantic.DeepEqual(after.Spec.Template, cp.Spec.Template) {
		t.Errorf("the canary copy was made anew or its pod template changed across the restarts")
	}
	var steps []string
	var fifth time.Time
	for _, e := range n.events("web") {
		if e.Reason == "StepReached" {
			steps = append(steps, strings.TrimSuffix(strings.Fields(e.Message)[1], ":"))
			if strings.HasPrefix(e.Message, "step 5/6") {
				fifth = eventTime(e)
			}
		}
	}
	if got := strings.Join(steps, " "); got != "1/6 2/6 3/6 4/6 5/6 6/6" {
		t.Errorf("steps entered: %s; want each once, in order", got)
	}
	if due := pauseFrom.Add(3 * time.Second); fifth.Before(due.Truncate(time.Microsecond)) {
		t.Errorf("the timed pause from %s ended at %s, before it was due at %s", pauseFrom, fifth, due)
	}
}

// testLeaderElection: two replicas with leader election; only the leader
// acts, and when it is killed with SIGKILL (no chance to release the
// Lease) the other takes over once the Lease expires and finishes the
// release.
func testLeaderElection(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 2, "v1")
	flags := []string{"--leader-elect", "--leader-election-namespace", n.name,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s", "--leader-election-retry-period", "500ms"}
	procs := []*controllerProc{n.startController("a", flags...), n.startController("b", flags...)}
	const leading = "leading: reconciling Rollouts"
	var leader, other *controllerProc
	n.eventually("a leader", func() (bool, string) {
		for i, p := range procs {
			if strings.Contains(p.log(), leading) {
				leader, other = p, procs[1-i]
				return true, ""
			}
		}
		return false, "neither leads"
	})
	var lease coordinationv1.Lease
	if err := n.c.Get(n.ctx(), n.key("kanaria-controller"), &lease); err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("leader-election Lease: %v %+v", err, lease.Spec)
	}

	n.createRollout("web", canarySpec("web"))
	n.healthy("web")
	n.setRevision("web", "v2")
	n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	n.waitEvent("web", "Paused", "step 4/4")
	for _, word := range []string{leading, "Initialized", "Started", "StepReached"} {
		if strings.Contains(other.log(), word) {
			t.Errorf("the replica that does not lead logged %q:\n%s", word, other.log())
		}
	}
	for _, word := range []string{"Initialized", "Started", "StepReached"} {
		if !strings.Contains(leader.log(), word) {
			t.Errorf("the leader did not log %q", word)
		}
	}

	leader.kill()
	n.eventually("the other replica to lead", func() (bool, string) {
		return strings.Contains(other.log(), leading), "it does not lead yet"
	})
	n.command("web", "promote", "1")
	st := n.waitStatus("web", "v2 stable", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseHealthy && st.StableRevision == "v2"
	})
	n.waitEvent("web", "Finished", "v2 is the stable revision")
	if !strings.Contains(other.log(), "Finished") || st.LastCommand != "1" {
		t.Errorf("the new leader did not finish the release: %+v\n%s", st, other.log())
	}
	if err := n.c.Get(n.ctx(), n.key("kanaria-controller"), &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h == nil || lease.Spec.LeaseTransitions == nil || *lease.Spec.LeaseTransitions < 1 {
		t.Errorf("Lease after the takeover: holder %v, transitions %v", h, lease.Spec.LeaseTransitions)
	}
	// Each engine event was recorded once, by whichever replica led.
	count := map[string]int{}
	for _, e := range n.events("web") {
		if e.Type == corev1.EventTypeNormal {
			count[e.Reason]++
		}
	}
	if count["Started"] != 1 || count["Promoted"] != 1 || count["Finished"] != 1 {
		t.Errorf("events by reason: %v", count)
	}
}

// chaos runs one controller after another, each killed with SIGKILL at a
// random moment within its first killWithin, until stop is called; the
// last one is killed too. Most of them die while they act: a process
// reconciles within a few hundred milliseconds of its start.
type chaos struct {
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	kills    int
	err      error
}

func (n *ns) chaos(seed uint64, killWithin time.Duration) *chaos {
	c := &chaos{stopCh: make(chan struct{}), done: make(chan struct{})}
	rnd := rand.New(rand.NewPCG(seed, seed))
	go func() {
		defer close(c.done)
		for i := 0; ; i++ {
			p, err := n.runController(fmt.Sprintf("chaos-%d", i))
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			select {
			case <-time.After(time.Duration(rnd.Int64N(int64(killWithin)))):
			case <-c.stopCh:
				p.kill()
				return
			}
			p.kill()
			c.mu.Lock()
			c.kills++
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *chaos) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kills
}

func (c *chaos) stop() (kills int, err error) {
	c.stopOnce.Do(func() { close(c.stopCh) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kills, c.err
}

// testChaos: a release and its abort while controllers are killed with
// SIGKILL at random moments, over and over: between reading and writing
// the status, between writing it and acting, in the middle of acting. The
// release still reaches its last pause, the abort still takes the
// canary's pods away before its copy is deleted, and once a controller is
// left running nothing remains to be done.
func testChaos(t *testing.T, cl *cluster) {
	n := cl.newNamespace(t)
	n.target("web", 3, "v1")
	n.createRollout("web", canarySpec("web"))
	log := n.watchDeployment("web-canary")
	ch := n.chaos(uint64(time.Now().UnixNano()), 1200*time.Millisecond)
	defer ch.stop()

	n.healthy("web")
	n.setRevision("web", "v2")
	n.waitStep("web", v1alpha1.PhasePaused, "4/4")
	n.copyReplicas("web-canary", 3)
	// A few more controllers die while the release waits: each new one
	// must find it where it is.
	n.eventually("more kills", func() (bool, string) { k := ch.count(); return k >= 4, fmt.Sprint(k) })
	n.command("web", "abort", "a1")
	n.waitStatus("web", "aborted, the copy gone", func(st v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhaseAborted && n.deployment("web-canary") == nil
	})
	kills, err := ch.stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d controllers killed with SIGKILL during the release and its abort", kills)
	n.eventually("the watch to see the deletion", func() (bool, string) {
		l := log.log()
		return len(l) > 0 && l[len(l)-1] == "deleted", strings.Join(l, ", ")
	})
	log.stop()
	l := log.log()
	if len(l) < 2 || l[len(l)-2] != "replicas=0" {
		t.Errorf("the canary copy went through %s; want it at 0 pods before it was deleted", strings.Join(l, ", "))
	}
	if !strings.Contains(strings.Join(l, ", "), "replicas=3") {
		t.Errorf("the canary copy never had the pods of 50%%: %v", l)
	}

	// One controller left running finds nothing to do.
	n.startController("last")
	st := n.waitStatus("web", "the Progressing condition without anything waited for", func(st v1alpha1.RolloutStatus) bool {
		c := condition(st, v1alpha1.ConditionProgressing)
		return c.Reason == "ReleaseAborted" && !strings.Contains(c.Message, "waiting")
	})
	if st.StableRevision != "v1" || st.CanaryRevision != "" || st.LastCommand != "a1" {
		t.Errorf("after the chaos: %+v", st)
	}
	if d := n.deployment("web"); image(d) != "registry.example/web:v1" || d.Spec.Template.Labels["kanaria.dev/role"] != "stable" {
		t.Errorf("the target after the chaos: %s %v", image(d), d.Spec.Template.Labels)
	}
}
