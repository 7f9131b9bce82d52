package spec

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// fieldError is a validation problem at a path inside one Rollout; Parse
// turns it into a positioned Error.
type fieldError struct {
	path path
	msg  string
}

func fieldErr(p path, format string, args ...any) fieldError {
	return fieldError{path: p, msg: fmt.Sprintf(format, args...)}
}

var (
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	hostLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks one Rollout without positions (for Rollouts built in code
// or received over the API). Errors carry the field path.
func Validate(r v1alpha1.Rollout) error {
	fes := validateRollout(r)
	if len(fes) == 0 {
		return nil
	}
	msgs := make([]string, len(fes))
	for i, fe := range fes {
		msgs[i] = strings.TrimPrefix(fe.path.String(), ".") + ": " + fe.msg
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

func validateRollout(r v1alpha1.Rollout) []fieldError {
	var errs []fieldError
	add := func(p path, format string, args ...any) { errs = append(errs, fieldErr(p, format, args...)) }
	if r.APIVersion != v1alpha1.APIVersion {
		add(path{"apiVersion"}, "must be %q, not %q", v1alpha1.APIVersion, r.APIVersion)
	}
	if r.Kind != v1alpha1.KindRollout {
		add(path{"kind"}, "must be %q, not %q", v1alpha1.KindRollout, r.Kind)
	}
	switch n := r.Metadata.Name; {
	case n == "":
		add(path{"metadata", "name"}, "is required")
	case len(n) > 63 || !dnsLabel.MatchString(n):
		add(path{"metadata", "name"}, "%q must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", n)
	}
	sp := path{"spec"}
	if err := v1alpha1.ValidateRevision(r.Spec.Revision); err != nil {
		add(sp.with("revision"), "%v", err)
	}
	errs = append(errs, validateRoute(sp.with("route"), r.Spec.Route)...)
	errs = append(errs, validatePlatform(sp.with("platform"), r.Spec)...)
	errs = append(errs, validateTraffic(sp.with("traffic"), r.Spec)...)
	errs = append(errs, validateStrategy(sp.with("strategy"), r.Spec)...)
	errs = append(errs, validateNotifications(sp.with("notifications"), r.Spec.Notifications)...)
	errs = append(errs, validateAnalysis(sp.with("analysis"), r.Spec)...)
	if r.Spec.Paused && r.Spec.Platform.Kubernetes == nil {
		// Only kanaria controller reads it; on one machine it would be
		// silently ignored.
		add(sp.with("paused"), "is read only in a cluster (platform.kubernetes); on one machine run kanaria pause")
	}
	return errs
}

func validateRoute(p path, rt v1alpha1.Route) []fieldError {
	var errs []fieldError
	for i, h := range rt.Hosts {
		if err := validHost(h); err != nil {
			errs = append(errs, fieldErr(p.with("hosts", i), "%v", err))
		}
	}
	if rt.PathPrefix != "" && !strings.HasPrefix(rt.PathPrefix, "/") {
		errs = append(errs, fieldErr(p.with("pathPrefix"), "%q must start with \"/\"", rt.PathPrefix))
	}
	if rt.KeyHeader != "" && !headerToken.MatchString(rt.KeyHeader) {
		errs = append(errs, fieldErr(p.with("keyHeader"), "%q is not a valid header name", rt.KeyHeader))
	}
	if rt.KeyCookie != "" && !headerToken.MatchString(rt.KeyCookie) {
		errs = append(errs, fieldErr(p.with("keyCookie"), "%q is not a valid cookie name", rt.KeyCookie))
	}
	return errs
}

// validHost accepts a lowercase host name or "*.suffix"; ports are not part
// of a route (the router listens on one port).
func validHost(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a valid host", h)
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) > 63 || !hostLabel.MatchString(label) {
			return fmt.Errorf("%q is not a valid host: use lowercase names like \"shop.example.com\" or \"*.example.com\", without port or scheme", h)
		}
	}
	return nil
}

func validatePlatform(p path, s v1alpha1.RolloutSpec) []fieldError {
	pl := s.Platform
	var set []string
	for name, on := range map[string]bool{"local": pl.Local != nil, "static": pl.Static != nil, "kubernetes": pl.Kubernetes != nil, "ecs": pl.ECS != nil} {
		if on {
			set = append(set, name)
		}
	}
	sort.Strings(set)
	switch {
	case len(set) == 0:
		return []fieldError{fieldErr(p, "needs exactly one of local, static, kubernetes, ecs; none is set")}
	case len(set) > 1:
		return []fieldError{fieldErr(p, "needs exactly one of local, static, kubernetes, ecs; %s are set", strings.Join(set, " and "))}
	case pl.Local != nil:
		return validateLocal(p.with("local"), *pl.Local)
	case pl.Kubernetes != nil:
		return validateKubernetes(p.with("kubernetes"), *pl.Kubernetes)
	case pl.ECS != nil:
		return validateECS(p.with("ecs"), s)
	}
	return validateStatic(p.with("static"), *pl.Static, s.Revision)
}

func validateLocal(p path, l v1alpha1.LocalPlatform) []fieldError {
	var errs []fieldError
	add := func(q path, format string, args ...any) { errs = append(errs, fieldErr(q, format, args...)) }
	if strings.TrimSpace(l.Command) == "" {
		add(p.with("command"), "is required: a command template such as \"./server --port {{.Port}}\"")
	} else if err := checkTemplate(l.Command); err != nil {
		add(p.with("command"), "%v", err)
	}
	for _, k := range sortedKeys(l.Env) {
		if !envName.MatchString(k) {
			add(p.with("env", k), "%q is not a valid environment variable name", k)
		}
	}
	if l.Instances < 0 || l.Instances > 64 {
		add(p.with("instances"), "%d is out of range 1..64", l.Instances)
	}
	rp := p.with("readiness")
	if l.Readiness.Path != "" && !strings.HasPrefix(l.Readiness.Path, "/") {
		add(rp.with("path"), "%q must start with \"/\"", l.Readiness.Path)
	}
	if l.Readiness.Interval < 0 {
		add(rp.with("interval"), "%s is negative", l.Readiness.Interval)
	}
	if l.Readiness.Timeout < 0 {
		add(rp.with("timeout"), "%s is negative", l.Readiness.Timeout)
	}
	if l.GracePeriod < 0 {
		add(p.with("gracePeriod"), "%s is negative", l.GracePeriod)
	}
	return errs
}

// checkTemplate parses the command and runs it once on sample data, which is
// how text/template finds a reference to an unknown field.
func checkTemplate(cmd string) error {
	t, err := v1alpha1.ParseCommand(cmd)
	if err != nil {
		return fmt.Errorf("not a valid template: %v", strings.TrimPrefix(err.Error(), "template: command:"))
	}
	sample := v1alpha1.CommandData{Revision: "v1", Port: 8080, Name: "web", Instance: 0, Kanaria: "kanaria"}
	if err := t.Execute(io.Discard, sample); err != nil {
		return fmt.Errorf("template uses an unknown field (known: .Revision .Port .Name .Instance .Kanaria): %v", strings.TrimPrefix(err.Error(), "template: command:"))
	}
	return nil
}

func validateStatic(p path, st v1alpha1.StaticPlatform, stable string) []fieldError {
	var errs []fieldError
	rp := p.with("revisions")
	if len(st.Revisions) == 0 {
		return []fieldError{fieldErr(rp, "must list at least the stable revision %q with its endpoints", stable)}
	}
	if _, ok := st.Revisions[stable]; !ok && stable != "" {
		errs = append(errs, fieldErr(rp, "must list spec.revision %q", stable))
	}
	for _, rev := range sortedKeys(st.Revisions) {
		if err := v1alpha1.ValidateRevision(rev); err != nil {
			errs = append(errs, fieldErr(rp.with(rev), "%v", err))
		}
		eps := st.Revisions[rev]
		if len(eps) == 0 {
			errs = append(errs, fieldErr(rp.with(rev), "needs at least one endpoint URL"))
		}
		for i, ep := range eps {
			if err := validEndpoint(ep); err != nil {
				errs = append(errs, fieldErr(rp.with(rev, i), "%v", err))
			}
		}
	}
	return errs
}

func validEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http:// or https:// URL", ep)
	}
	return nil
}

func validateStrategy(p path, s v1alpha1.RolloutSpec) []fieldError {
	st := s.Strategy
	switch {
	case st.Canary == nil && st.BlueGreen == nil:
		return []fieldError{fieldErr(p, "needs exactly one of canary, blueGreen; none is set")}
	case st.Canary != nil && st.BlueGreen != nil:
		return []fieldError{fieldErr(p, "needs exactly one of canary, blueGreen; both are set")}
	case st.BlueGreen != nil:
		return validateBlueGreen(p.with("blueGreen"), *st.BlueGreen, s)
	}
	return validateCanary(p.with("canary"), *st.Canary, s)
}

func validateCanary(p path, c v1alpha1.CanaryStrategy, rs v1alpha1.RolloutSpec) []fieldError {
	var errs []fieldError
	if c.Baseline && rs.Platform.Static != nil {
		errs = append(errs, fieldErr(p.with("baseline"), "needs a platform that can start a separate copy of the stable revision (local); static endpoints cannot"))
	}
	for i, s := range c.Steps {
		errs = append(errs, validateStep(p.with("steps", i), s, rs)...)
	}
	if c.Mirror != nil {
		errs = append(errs, checked(p.with("mirror"), c.Mirror.Check())...)
	}
	errs = append(errs, validateHeaderRouteNames(p.with("steps"), c.Steps)...)
	if c.Analysis != nil {
		errs = append(errs, validateRefs(p.with("analysis"), c.Analysis.Metrics, rs)...)
	}
	return errs
}

func validateStep(p path, s v1alpha1.Step, rs v1alpha1.RolloutSpec) []fieldError {
	set := 0
	for _, ok := range []bool{s.SetWeight != nil, s.Pause != nil, s.Analysis != nil, s.SetMirror != nil, s.SetHeaderRoute != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return []fieldError{fieldErr(p, "a step sets exactly one of setWeight, pause, analysis, setMirror, setHeaderRoute; this one sets %d (write \"pause: {}\" to wait for promote)", set)}
	}
	switch {
	case s.SetWeight != nil:
		if err := s.SetWeight.Validate(); err != nil {
			return []fieldError{fieldErr(p.with("setWeight"), "%v", err)}
		}
	case s.SetMirror != nil:
		return checked(p.with("setMirror"), s.SetMirror.Check())
	case s.SetHeaderRoute != nil:
		return validateHeaderRoute(p.with("setHeaderRoute"), *s.SetHeaderRoute, rs)
	case s.Pause != nil:
		if d := s.Pause.Duration; d != nil && *d < 0 {
			return []fieldError{fieldErr(p.with("pause", "duration"), "%s is negative", d)}
		}
	case s.Analysis != nil:
		return validateAnalysisStep(p.with("analysis"), *s.Analysis, rs)
	}
	return nil
}

func validateBlueGreen(p path, bg v1alpha1.BlueGreenStrategy, rs v1alpha1.RolloutSpec) []fieldError {
	var errs []fieldError
	for _, a := range []struct {
		field string
		step  *v1alpha1.AnalysisStep
	}{{"prePromotionAnalysis", bg.PrePromotionAnalysis}, {"postPromotionAnalysis", bg.PostPromotionAnalysis}} {
		if a.step != nil {
			errs = append(errs, validateAnalysisStep(p.with(a.field), *a.step, rs)...)
			errs = append(errs, thresholdsOnly(p.with(a.field), *a.step, rs)...)
		}
	}
	if bg.AutoPromotionDelay < 0 {
		errs = append(errs, fieldErr(p.with("autoPromotionDelay"), "%s is negative", bg.AutoPromotionDelay))
	}
	if bg.ScaleDownDelay != nil && *bg.ScaleDownDelay < 0 {
		errs = append(errs, fieldErr(p.with("scaleDownDelay"), "%s is negative", bg.ScaleDownDelay))
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checked turns the error of a v1alpha1 Check ("match[0].path.regex:
// problem", the field relative to p) into a field error at that field.
func checked(p path, err error) []fieldError {
	if err == nil {
		return nil
	}
	field, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		return []fieldError{fieldErr(p, "%s", err.Error())}
	}
	for _, el := range strings.Split(field, ".") {
		name, idx, indexed := strings.Cut(strings.TrimSuffix(el, "]"), "[")
		p = p.with(name)
		if n, err := strconv.Atoi(idx); indexed && err == nil {
			p = p.with(n)
		}
	}
	return []fieldError{fieldErr(p, "%s", msg)}
}
