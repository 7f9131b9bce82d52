package spec

import (
	"strings"
	"time"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// validateECS checks what can be checked without AWS; that the service
// exists with the EXTERNAL deployment controller, and the target groups and
// listeners fit, is checked by `kanaria up` before it changes anything.
func validateECS(p path, s v1alpha1.RolloutSpec) []fieldError {
	e := s.Platform.ECS
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	errs = append(errs, validateAWS(p.with("aws"), e.AWS)...)
	if strings.TrimSpace(e.Cluster) == "" {
		add(p.with("cluster"), "is required: the ECS cluster's name or ARN")
	}
	if strings.TrimSpace(e.Service) == "" {
		add(p.with("service"), "is required: the name or ARN of a service with the EXTERNAL deployment controller")
	}
	td := p.with("taskDefinition")
	if strings.TrimSpace(e.TaskDefinition.From) == "" {
		add(td.with("from"), "is required: the task definition family (or family:revision, or ARN) each revision is copied from")
	}
	// The containers are templates as for Kubernetes: the same rules.
	errs = append(errs, validateContainers(td.with("containers"), e.TaskDefinition.Containers, "a container name of the task definition")...)
	tg := p.with("targetGroups")
	if len(e.TargetGroups) != 2 {
		add(tg, "needs exactly two target group ARNs (stable and canary take one each), got %d", len(e.TargetGroups))
	}
	for i, a := range e.TargetGroups {
		if !strings.HasPrefix(a, "arn:") || !strings.Contains(a, ":targetgroup/") {
			add(tg.with(i), "%q is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)", a)
		}
	}
	if len(e.TargetGroups) == 2 && e.TargetGroups[0] == e.TargetGroups[1] {
		add(tg.with(1), "is the same target group as targetGroups[0]")
	}
	if e.ContainerName == "" {
		add(p.with("containerName"), "is required: the container the target groups send traffic to")
	}
	if e.ContainerPort < 1 || e.ContainerPort > 65535 {
		add(p.with("containerPort"), "%d is not a port (1-65535)", e.ContainerPort)
	}
	if c := e.CanaryScale; c != nil && (*c <= 0 || *c > 100) {
		add(p.with("canaryScale"), "%v must be a percentage above 0 and at most 100", *c)
	}
	switch e.LaunchType {
	case "", "FARGATE", "EC2", "EXTERNAL":
	default:
		add(p.with("launchType"), "%q must be FARGATE, EC2 or EXTERNAL", e.LaunchType)
	}
	if e.PollInterval < 0 {
		add(p.with("pollInterval"), "%s is negative", e.PollInterval)
	}
	if s.Traffic == nil || s.Traffic.ELB == nil {
		add(p, "needs traffic.elb: the weights of ECS task sets are ELB listener weights")
	}
	if c := s.Strategy.Canary; c != nil && c.Baseline {
		add(path{"spec", "strategy", "canary", "baseline"}, "is not available on ECS: the forward action carries two target groups, stable's and the canary's")
	}
	if c := s.Strategy.Canary; c != nil {
		for i, st := range c.Steps {
			if st.SetMirror != nil {
				add(path{"spec", "strategy", "canary", "steps", i, "setMirror"}, "is not available on ECS: ELB carries the traffic, not kanaria's router")
			}
		}
	}
	if a := s.Analysis; a != nil {
		if a.ComparedWith == "baseline" {
			add(path{"spec", "analysis", "comparedWith"}, "baseline is not available on ECS; compare with stable")
		}
		for i, m := range a.Metrics {
			if m.Provider.Router != nil {
				add(path{"spec", "analysis", "metrics", i, "provider", "router"}, "has no data on ECS: requests go through ELB, not kanaria's router; use cloudwatch")
			}
		}
	}
	return errs
}

// validateELB checks traffic.elb.
func validateELB(p path, s v1alpha1.RolloutSpec) []fieldError {
	e := s.Traffic.ELB
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if s.Platform.ECS == nil {
		add(p, "needs platform.ecs: ELB weights move traffic between ECS task sets' target groups")
	}
	if e.AWS != nil {
		errs = append(errs, validateAWS(p.with("aws"), *e.AWS)...)
	}
	if len(e.Listeners)+len(e.Rules) == 0 {
		add(p, "needs at least one listener or rule ARN whose forward action carries the two target groups")
	}
	for _, f := range []struct {
		name, kind string
		arns       []string
	}{{"listeners", ":listener/", e.Listeners}, {"rules", ":listener-rule/", e.Rules}, {"testListeners", ":listener/", e.TestListeners}, {"testRules", ":listener-rule/", e.TestRules}} {
		for i, a := range f.arns {
			if !strings.HasPrefix(a, "arn:") || !strings.Contains(a, f.kind) {
				add(p.with(f.name, i), "%q is not an ELB %s ARN", a, strings.Trim(f.kind, ":/"))
			}
		}
	}
	if d := e.Stickiness; d != nil && (d.D() < time.Second || d.D() > 7*24*time.Hour || d.D()%time.Second != 0) {
		add(p.with("stickiness"), "%s must be whole seconds from 1s to 168h (ELB's limits)", d.D())
	}
	return errs
}

func validateCloudWatchMetric(p path, kind string, c v1alpha1.CloudWatchMetric) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	switch {
	case c.Measure == "" && kind == "threshold":
		add(p.with("measure"), "a threshold metric must say what to measure: errorRate, latency or requestRate")
	case c.Measure != "" && c.Measure != "errorRate" && c.Measure != "latency" && c.Measure != "requestRate":
		add(p.with("measure"), "%q must be errorRate, latency or requestRate", c.Measure)
	case c.Measure != "" && kind != "threshold" && c.Measure != kind:
		add(p.with("measure"), "a %s comparison measures %s, not %s", kind, kind, c.Measure)
	}
	if d := c.Period.D(); d != 0 {
		ok := d == time.Second || d == 5*time.Second || d == 10*time.Second || d == 30*time.Second || (d > 0 && d%time.Minute == 0)
		if !ok {
			add(p.with("period"), "%s must be 1s, 5s, 10s, 30s or a multiple of 60s (CloudWatch's periods)", d)
		}
	}
	if c.AWS != nil {
		errs = append(errs, validateAWS(p.with("aws"), *c.AWS)...)
	}
	return errs
}

func validateAWS(p path, a v1alpha1.AWS) []fieldError {
	var errs []fieldError
	if a.Endpoint != "" {
		if err := validURL(a.Endpoint); err != nil {
			errs = append(errs, fieldErr(p.with("endpoint"), "%v", err))
		}
	}
	if a.MaxAttempts < 0 {
		errs = append(errs, fieldErr(p.with("maxAttempts"), "%d is negative", a.MaxAttempts))
	}
	return errs
}
