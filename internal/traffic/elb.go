package traffic

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/awsapi"
)

// ELBMaxWeight is the largest weight of a target group in an ELB forward
// action.
const ELBMaxWeight = 999

// ELB makes weights real in the forward actions of ALB listeners and
// listener rules. The platform's endpoints are target group ARNs (the ECS
// platform's); each forward action must carry exactly the two target
// groups, and the stable one gets the rest of the traffic. ELB weights are
// whole numbers 0–999 per target group, so a weight is honoured as the
// nearest ratio of two of them (Honoured); Observe reads the ratio back.
// Test listeners and rules forward everything to the canary while it runs.
// Stickiness, when asked for, is the forward action's target group
// stickiness: a client stays on the target group it was first sent to for
// the duration, so it does not grow monotonically with the weight.
type ELB struct {
	cfg    v1alpha1.ELBTraffic
	tgs    []string
	client *elbv2.Client

	mu sync.Mutex
	// stable is the target group stable was on at the last Set: Observe
	// needs to know which side is which.
	stable string
	asked  v1alpha1.Weights
}

// NewELB returns the provider for the spec's listeners and rules, and the
// platform's two target groups.
func NewELB(ctx context.Context, cfg v1alpha1.ELBTraffic, platformAWS v1alpha1.AWS, targetGroups []string) (*ELB, error) {
	if len(targetGroups) != 2 {
		return nil, fmt.Errorf("elb: needs exactly two target groups, got %d", len(targetGroups))
	}
	c, err := awsapi.Config(ctx, awsapi.Or(cfg.AWS, platformAWS))
	if err != nil {
		return nil, err
	}
	return &ELB{cfg: cfg, tgs: slices.Clone(targetGroups), client: elbv2.NewFromConfig(c)}, nil
}

// Capabilities: none of the list; weights are coarser than ppm (Honoured)
// and stickiness is not monotonic.
func (e *ELB) Capabilities() []Capability { return []Capability{} }

// ELBRatio is the pair of ELB weights (canary, stable), each 0–999, whose
// share is nearest to w; of equally near pairs the smallest.
func ELBRatio(w v1alpha1.Weight) (canary, stable int32) {
	p := float64(w) / v1alpha1.PPM
	best, bestErr := [2]int32{0, 1}, math.Inf(1)
	for d := 1; d <= 2*ELBMaxWeight; d++ {
		c := int(math.Round(p * float64(d)))
		s := d - c
		if c < 0 || c > ELBMaxWeight || s < 0 || s > ELBMaxWeight {
			continue
		}
		if e := math.Abs(float64(c)/float64(d) - p); e < bestErr-1e-12 {
			best, bestErr = [2]int32{int32(c), int32(s)}, e
		}
	}
	return best[0], best[1]
}

// ratioWeight is the share of canary weight c against stable weight s.
func ratioWeight(c, s int32) v1alpha1.Weight {
	if c+s == 0 {
		return 0
	}
	return v1alpha1.Weight(math.Round(float64(c) * v1alpha1.PPM / float64(c+s)))
}

// Honoured is the weight ELB can carry out for w, as Observe will read it
// back.
func (e *ELB) Honoured(w v1alpha1.Weights) v1alpha1.Weights {
	return v1alpha1.Weights{CanaryPPM: ratioWeight(ELBRatio(w.CanaryPPM))}
}

// target is one listener or rule kanaria manages.
type target struct {
	field, arn string
	rule, test bool
}

func (e *ELB) targets() []target {
	var ts []target
	add := func(field string, arns []string, rule, test bool) {
		for i, a := range arns {
			ts = append(ts, target{field: fmt.Sprintf("spec.traffic.elb.%s[%d]", field, i), arn: a, rule: rule, test: test})
		}
	}
	add("listeners", e.cfg.Listeners, false, false)
	add("rules", e.cfg.Rules, true, false)
	add("testListeners", e.cfg.TestListeners, false, true)
	add("testRules", e.cfg.TestRules, true, true)
	return ts
}

func (t target) resource() string {
	if t.rule {
		return "elb listener rule " + t.arn
	}
	return "elb listener " + t.arn
}

// actions reads a target's actions and its load balancer.
func (e *ELB) actions(ctx context.Context, t target) (acts []types.Action, lb string, err error) {
	if t.rule {
		out, err := e.client.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{t.arn}})
		if err != nil {
			return nil, "", awsapi.Err(t.resource(), err)
		}
		if len(out.Rules) != 1 {
			return nil, "", fmt.Errorf("%s: not found", t.resource())
		}
		return out.Rules[0].Actions, ruleLoadBalancer(t.arn), nil
	}
	out, err := e.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{t.arn}})
	if err != nil {
		return nil, "", awsapi.Err(t.resource(), err)
	}
	if len(out.Listeners) != 1 {
		return nil, "", fmt.Errorf("%s: not found", t.resource())
	}
	return out.Listeners[0].DefaultActions, aws.ToString(out.Listeners[0].LoadBalancerArn), nil
}

// ruleLoadBalancer is the ARN of the load balancer of a rule
// (…:listener-rule/app/NAME/LB/LISTENER/RULE -> …:loadbalancer/app/NAME/LB).
func ruleLoadBalancer(ruleARN string) string {
	head, tail, ok := strings.Cut(ruleARN, ":listener-rule/")
	parts := strings.Split(tail, "/")
	if !ok || len(parts) < 3 {
		return ""
	}
	return head + ":loadbalancer/" + strings.Join(parts[:3], "/")
}

// forwardIndex finds the one forward action and checks it carries exactly
// the two target groups.
func (e *ELB) forwardIndex(t target, acts []types.Action) (int, error) {
	idx := -1
	for i, a := range acts {
		if a.Type == types.ActionTypeEnumForward {
			if idx >= 0 {
				return 0, fmt.Errorf("%s: %s has more than one forward action", t.field, t.resource())
			}
			idx = i
		}
	}
	if idx < 0 {
		return 0, fmt.Errorf("%s: %s has no forward action; it needs one to %s", t.field, t.resource(), strings.Join(e.tgs, " and "))
	}
	var got []string
	if f := acts[idx].ForwardConfig; f != nil && len(f.TargetGroups) > 0 {
		for _, tg := range f.TargetGroups {
			got = append(got, aws.ToString(tg.TargetGroupArn))
		}
	} else if a := aws.ToString(acts[idx].TargetGroupArn); a != "" {
		got = []string{a}
	}
	slices.Sort(got)
	want := slices.Clone(e.tgs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return 0, fmt.Errorf("%s: the forward action of %s carries %s; it needs exactly the two target groups %s (add the missing one with weight 0)",
			t.field, t.resource(), orNone(got), strings.Join(want, " and "))
	}
	return idx, nil
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "no target group"
	}
	return strings.Join(xs, " and ")
}

// Validate checks, changing nothing, that both target groups exist and
// are attached to the load balancer of every listener and rule, and that
// each of those forwards to exactly the two target groups.
func (e *ELB) Validate(ctx context.Context) error {
	out, err := e.client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: e.tgs})
	if err != nil {
		return awsapi.Err("elb target groups "+strings.Join(e.tgs, ", "), err)
	}
	lbs := map[string][]string{}
	for _, tg := range out.TargetGroups {
		lbs[aws.ToString(tg.TargetGroupArn)] = tg.LoadBalancerArns
	}
	for i, tg := range e.tgs {
		if _, ok := lbs[tg]; !ok {
			return fmt.Errorf("spec.platform.ecs.targetGroups[%d]: target group %s not found", i, tg)
		}
	}
	if len(e.targets()) == 0 {
		return fmt.Errorf("spec.traffic.elb: names no listener and no rule")
	}
	for _, t := range e.targets() {
		acts, lb, err := e.actions(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.field, err)
		}
		if _, err := e.forwardIndex(t, acts); err != nil {
			return err
		}
		for i, tg := range e.tgs {
			if !slices.Contains(lbs[tg], lb) {
				return fmt.Errorf("spec.platform.ecs.targetGroups[%d]: target group %s is not attached to load balancer %s of %s (it is attached to %s)",
					i, tg, lb, t.resource(), orNone(lbs[tg]))
			}
		}
	}
	return nil
}

// weightsFor are the weights of the two target groups for a target.
func (e *ELB) weightsFor(t target, stable, canary string, w v1alpha1.Weights, hasCanary bool) map[string]int32 {
	if t.test {
		if hasCanary {
			return map[string]int32{canary: 1, stable: 0}
		}
		return map[string]int32{canary: 0, stable: 1}
	}
	c, s := ELBRatio(w.CanaryPPM)
	return map[string]int32{canary: c, stable: s}
}

// Set writes the weights into every forward action that does not carry
// them yet, one ModifyListener or ModifyRule each; other actions and
// fields are kept as they are.
func (e *ELB) Set(ctx context.Context, a Assignment) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.Baseline != nil {
		return fmt.Errorf("elb: no baseline: the forward action carries two target groups")
	}
	stable, canary, err := e.sides(a)
	if err != nil {
		return err
	}
	for _, t := range e.targets() {
		acts, _, err := e.actions(ctx, t)
		if err != nil {
			return err
		}
		i, err := e.forwardIndex(t, acts)
		if err != nil {
			return err
		}
		want := e.weightsFor(t, stable, canary, a.Weights, a.Canary != nil)
		next := e.forward(acts[i], want)
		if sameForward(acts[i], next) {
			continue
		}
		acts = slices.Clone(acts)
		acts[i] = next
		if t.rule {
			_, err = e.client.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: &t.arn, Actions: acts})
		} else {
			_, err = e.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: &t.arn, DefaultActions: acts})
		}
		if err != nil {
			return awsapi.Err(t.resource(), err)
		}
	}
	e.mu.Lock()
	e.stable, e.asked = stable, a.Weights
	e.mu.Unlock()
	return nil
}

// sides are the stable and canary target groups of an assignment.
func (e *ELB) sides(a Assignment) (stable, canary string, err error) {
	if len(a.Stable.Endpoints) != 1 || !slices.Contains(e.tgs, a.Stable.Endpoints[0]) {
		return "", "", fmt.Errorf("elb: stable revision %s is on %v, not on one of the target groups %s", a.Stable.Revision, a.Stable.Endpoints, strings.Join(e.tgs, ", "))
	}
	stable = a.Stable.Endpoints[0]
	canary = e.tgs[0]
	if canary == stable {
		canary = e.tgs[1]
	}
	if a.Canary != nil && (len(a.Canary.Endpoints) != 1 || a.Canary.Endpoints[0] != canary) {
		return "", "", fmt.Errorf("elb: canary revision %s is on %v, not on the target group %s", a.Canary.Revision, a.Canary.Endpoints, canary)
	}
	return stable, canary, nil
}

// forward is act with the weights and the stickiness asked for.
func (e *ELB) forward(act types.Action, weights map[string]int32) types.Action {
	var tuples []types.TargetGroupTuple
	for _, tg := range e.tgs {
		tuples = append(tuples, types.TargetGroupTuple{TargetGroupArn: aws.String(tg), Weight: aws.Int32(weights[tg])})
	}
	st := &types.TargetGroupStickinessConfig{Enabled: aws.Bool(false)}
	if d := e.cfg.Stickiness; d != nil {
		st = &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(int32(d.D().Seconds()))}
	}
	act.TargetGroupArn = nil
	act.ForwardConfig = &types.ForwardActionConfig{TargetGroups: tuples, TargetGroupStickinessConfig: st}
	return act
}

func sameForward(a, b types.Action) bool {
	wa, sa := readForward(a)
	wb, sb := readForward(b)
	return fmt.Sprint(wa) == fmt.Sprint(wb) && sa == sb
}

// readForward is a forward action's weights (an omitted weight is 1) and
// stickiness duration (0: off).
func readForward(a types.Action) (map[string]int32, int32) {
	w := map[string]int32{}
	var sticky int32
	if f := a.ForwardConfig; f != nil && len(f.TargetGroups) > 0 {
		for _, t := range f.TargetGroups {
			w[aws.ToString(t.TargetGroupArn)] = 1
			if t.Weight != nil {
				w[aws.ToString(t.TargetGroupArn)] = *t.Weight
			}
		}
		if s := f.TargetGroupStickinessConfig; s != nil && aws.ToBool(s.Enabled) {
			sticky = aws.ToInt32(s.DurationSeconds)
		}
	} else if tg := aws.ToString(a.TargetGroupArn); tg != "" {
		w[tg] = 1
	}
	return w, sticky
}

// Observe reads every forward action back. The weights are known (ok)
// only when all listeners and rules agree, the test ones forward where
// they should, and the stickiness is as asked: right after a change ELB
// may still show the old actions.
func (e *ELB) Observe(ctx context.Context, namespace, rollout string) (v1alpha1.Weights, bool, error) {
	e.mu.Lock()
	stable := e.stable
	e.mu.Unlock()
	if stable == "" {
		return v1alpha1.Weights{}, false, nil
	}
	r, err := e.read(ctx, stable)
	if err != nil || !r.agree {
		return v1alpha1.Weights{}, false, err
	}
	return v1alpha1.Weights{CanaryPPM: r.weight}, true, nil
}

// readBack is what the listeners and rules say.
type readBack struct {
	weight       v1alpha1.Weight
	canary, rest int32
	agree        bool
	n            int
}

func (e *ELB) read(ctx context.Context, stable string) (readBack, error) {
	canary := e.tgs[0]
	if canary == stable {
		canary = e.tgs[1]
	}
	r := readBack{agree: true}
	first := true
	var want int32
	if d := e.cfg.Stickiness; d != nil {
		want = int32(d.D().Seconds())
	}
	for _, t := range e.targets() {
		acts, _, err := e.actions(ctx, t)
		if err != nil {
			return r, err
		}
		i, err := e.forwardIndex(t, acts)
		if err != nil {
			return r, err
		}
		w, sticky := readForward(acts[i])
		if sticky != want {
			r.agree = false
		}
		if t.test {
			continue
		}
		r.n++
		if first {
			r.canary, r.rest, first = w[canary], w[stable], false
		} else if w[canary] != r.canary || w[stable] != r.rest {
			r.agree = false
		}
	}
	r.weight = ratioWeight(r.canary, r.rest)
	return r, nil
}

// Explain is the weights in ELB's terms, against what was asked.
func (e *ELB) Explain(ctx context.Context, namespace, rollout string) (string, error) {
	e.mu.Lock()
	stable, asked := e.stable, e.asked
	e.mu.Unlock()
	if stable == "" {
		return "", nil
	}
	r, err := e.read(ctx, stable)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("ELB weights canary %d : stable %d on %d forward actions = %s (asked %s; ELB weights are 0-999, the finest share is 1:999 = 0.1%%)",
		r.canary, r.rest, r.n, r.weight, asked.CanaryPPM)
	if !r.agree {
		s += "; the listeners and rules do not agree yet"
	}
	if d := e.cfg.Stickiness; d != nil {
		s += fmt.Sprintf("; target group stickiness %s: a client stays on its target group whatever the weights", d.D())
	}
	return s, nil
}
