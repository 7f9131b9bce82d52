package spec

import (
	"fmt"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// validateKubernetes checks what can be checked without a cluster; that the
// target exists and has the named containers is the controller's to say.
func validateKubernetes(p path, k v1alpha1.KubernetesPlatform) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	ref := p.with("workloadRef")
	if k.WorkloadRef.Name == "" {
		add(ref.with("name"), "is required: the name of the Deployment to release")
	} else if len(k.WorkloadRef.Name) > 253 || !dnsSubdomain(k.WorkloadRef.Name) {
		add(ref.with("name"), "%q is not a valid Deployment name", k.WorkloadRef.Name)
	}
	if v := k.WorkloadRef.APIVersion; v != "" && v != "apps/v1" {
		add(ref.with("apiVersion"), "%q is not supported: only apps/v1", v)
	}
	if v := k.WorkloadRef.Kind; v != "" && v != "Deployment" {
		add(ref.with("kind"), "%q is not supported: only Deployment", v)
	}
	errs = append(errs, validateContainers(p.with("containers"), k.Containers, "a container name of the target's pod template")...)
	if k.Port < 0 || k.Port > 65535 {
		add(p.with("port"), "%d is not a port (1-65535)", k.Port)
	}
	if k.CanaryReplicas != nil && *k.CanaryReplicas < 0 {
		add(p.with("canaryReplicas"), "%d is negative", *k.CanaryReplicas)
	}
	if k.BaselineReplicas != nil && *k.BaselineReplicas < 0 {
		add(p.with("baselineReplicas"), "%d is negative", *k.BaselineReplicas)
	}
	return errs
}

// validateContainers checks container templates (Kubernetes and ECS):
// named once each, an image template and env templates with only
// .Revision; what says what the name must be.
func validateContainers(cp path, containers []v1alpha1.ContainerTemplate, what string) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if len(containers) == 0 {
		add(cp, "needs at least one container, with the image template of a revision")
	}
	seen := map[string]bool{}
	for i, c := range containers {
		ci := cp.with(i)
		switch {
		case c.Name == "":
			add(ci.with("name"), "is required: %s", what)
		case seen[c.Name]:
			add(ci.with("name"), "%q is listed twice", c.Name)
		}
		seen[c.Name] = true
		if strings.TrimSpace(c.Image) == "" {
			add(ci.with("image"), "is required: an image template such as \"ghcr.io/acme/web:{{.Revision}}\"")
		} else if err := checkRevisionTemplate(c.Image); err != nil {
			add(ci.with("image"), "%v", err)
		}
		for j, e := range c.Env {
			if !envName.MatchString(e.Name) {
				add(ci.with("env", j, "name"), "%q is not a valid environment variable name", e.Name)
			}
			if err := checkRevisionTemplate(e.Value); err != nil {
				add(ci.with("env", j, "value"), "%v", err)
			}
		}
	}
	return errs
}

// checkRevisionTemplate parses and renders a template that may only use
// {{.Revision}}.
func checkRevisionTemplate(text string) error {
	if _, err := v1alpha1.RenderRevision(text, "v1"); err != nil {
		return fmt.Errorf("is not a template that renders with only .Revision: %v", strings.TrimPrefix(err.Error(), "template: revision:"))
	}
	return nil
}

// dnsSubdomain reports whether s is an RFC 1123 subdomain, as Kubernetes
// object names are.
func dnsSubdomain(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// validateTraffic checks that at most one provider is chosen and that it
// suits the platform: the Gateway API and the replica ratio exist only in a
// cluster.
func validateTraffic(p path, s v1alpha1.RolloutSpec) []fieldError {
	t := s.Traffic
	if t == nil {
		return nil
	}
	var set []string
	if t.Router != nil {
		set = append(set, "router")
	}
	if t.GatewayAPI != nil {
		set = append(set, "gatewayAPI")
	}
	if t.Replicas != nil {
		set = append(set, "replicas")
	}
	if t.ELB != nil {
		set = append(set, "elb")
	}
	if len(set) > 1 {
		return []fieldError{fieldErr(p, "needs at most one of router, gatewayAPI, replicas, elb; %s are set", strings.Join(set, " and "))}
	}
	if t.ELB != nil {
		return validateELB(p.with("elb"), s)
	}
	var errs []fieldError
	if (t.GatewayAPI != nil || t.Replicas != nil) && s.Platform.Kubernetes == nil {
		errs = append(errs, fieldErr(p.with(set[0]), "needs platform.kubernetes: outside a cluster kanaria's own router moves the traffic"))
	}
	if g := t.GatewayAPI; g != nil {
		if len(g.HTTPRoutes) == 0 {
			errs = append(errs, fieldErr(p.with("gatewayAPI", "httpRoutes"), "needs at least one HTTPRoute name"))
		}
		for i, name := range g.HTTPRoutes {
			if name == "" || !dnsSubdomain(name) {
				errs = append(errs, fieldErr(p.with("gatewayAPI", "httpRoutes", i), "%q is not a valid HTTPRoute name", name))
			}
		}
	}
	return errs
}
