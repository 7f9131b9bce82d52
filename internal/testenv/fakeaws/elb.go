package fakeaws

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const elbNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// action is a listener's or rule's action, as the XML shows it.
type action struct {
	Type           string   `xml:"Type"`
	TargetGroupArn string   `xml:"TargetGroupArn,omitempty"`
	Order          int      `xml:"Order,omitempty"`
	ForwardConfig  *forward `xml:"ForwardConfig,omitempty"`
}

type forward struct {
	TargetGroups []tgTuple `xml:"TargetGroups>member"`
	Stickiness   sticky    `xml:"TargetGroupStickinessConfig"`
}

type tgTuple struct {
	TargetGroupArn string `xml:"TargetGroupArn"`
	Weight         *int   `xml:"Weight,omitempty"`
}

type sticky struct {
	Enabled         bool `xml:"Enabled"`
	DurationSeconds int  `xml:"DurationSeconds,omitempty"`
}

type listener struct {
	arn, lb string
	actions []action
}

type rule struct {
	arn, listener string
	actions       []action
}

type targetGroup struct {
	arn, name string
	lbs       []string
}

// staleRead: the next n reads show actions from before the last write.
type staleRead struct {
	n       int
	actions []action
}

// AddLoadBalancer returns the ARN of a new application load balancer.
func (s *Server) AddLoadBalancer(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", s.region, s.account, name, s.id())
}

// AddTargetGroup creates a target group attached to the load balancers.
func (s *Server) AddTargetGroup(name string, lbs ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", s.region, s.account, name, s.id())
	s.targetGroups[arn] = &targetGroup{arn: arn, name: name, lbs: lbs}
	return arn
}

// AddListener creates a listener of lb forwarding to the target groups
// with the weights (tg ARN -> weight).
func (s *Server) AddListener(lb string, weights map[string]int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := strings.Replace(lb, ":loadbalancer/", ":listener/", 1) + "/" + s.id()
	s.listeners[arn] = &listener{arn: arn, lb: lb, actions: []action{forwardAction(weights)}}
	return arn
}

// AddRule creates a rule of a listener forwarding with the weights.
func (s *Server) AddRule(listenerARN string, weights map[string]int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/" + s.id()
	s.rules[arn] = &rule{arn: arn, listener: listenerARN, actions: []action{forwardAction(weights)}}
	return arn
}

func forwardAction(weights map[string]int) action {
	f := &forward{}
	for _, tg := range sortedKeys(weights) {
		w := weights[tg]
		f.TargetGroups = append(f.TargetGroups, tgTuple{TargetGroupArn: tg, Weight: &w})
	}
	a := action{Type: "forward", ForwardConfig: f}
	if len(f.TargetGroups) == 1 {
		a.TargetGroupArn = f.TargetGroups[0].TargetGroupArn
	}
	return a
}

// Weights reads a listener's or rule's forward weights as they really are
// (no stale read), and its stickiness duration (0: off).
func (s *Server) Weights(arn string) (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	acts := s.actionsOf(arn)
	out := map[string]int{}
	for _, a := range acts {
		if a.ForwardConfig == nil {
			continue
		}
		for _, t := range a.ForwardConfig.TargetGroups {
			w := 1
			if t.Weight != nil {
				w = *t.Weight
			}
			out[t.TargetGroupArn] = w
		}
		if a.ForwardConfig.Stickiness.Enabled {
			return out, a.ForwardConfig.Stickiness.DurationSeconds
		}
	}
	return out, 0
}

// SetStaleReads makes the next n reads of a listener or rule after each
// write show the actions from before the write (0: consistent).
func (s *Server) SetStaleReads(arn string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.staleN[arn] = n
	delete(s.stale, arn)
}

func (s *Server) actionsOf(arn string) []action {
	if l := s.listeners[arn]; l != nil {
		return l.actions
	}
	if r := s.rules[arn]; r != nil {
		return r.actions
	}
	return nil
}

// read is what a describe of arn shows: stale actions while some remain.
func (s *Server) read(arn string, current []action) []action {
	st, ok := s.stale[arn]
	if ok && st.n > 0 {
		st.n--
		s.stale[arn] = st
		return st.actions
	}
	return current
}

// wrote records a write for the stale-read model.
func (s *Server) wrote(arn string, before []action) {
	if n := s.staleN[arn]; n > 0 {
		s.stale[arn] = staleRead{n: n, actions: before}
	}
}

func (s *Server) serveELB(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeXMLError(w, &apiError{400, "MalformedQueryString", err.Error()})
		return
	}
	f := r.PostForm
	op := f.Get("Action")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.begin(op) {
		writeXMLError(w, &apiError{400, "Throttling", "Rate exceeded"})
		return
	}
	var inner any
	var err *apiError
	switch op {
	case "DescribeListeners":
		inner, err = s.describeListeners(f)
	case "DescribeRules":
		inner, err = s.describeRules(f)
	case "DescribeTargetGroups":
		inner, err = s.describeTargetGroups(f)
	case "ModifyListener":
		inner, err = s.modify(f, f.Get("ListenerArn"), "DefaultActions")
	case "ModifyRule":
		inner, err = s.modify(f, f.Get("RuleArn"), "Actions")
	default:
		err = &apiError{400, "InvalidAction", op + " is not modelled by fakeaws"}
	}
	if err != nil {
		writeXMLError(w, err)
		return
	}
	body, _ := xml.Marshal(inner)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		op, elbNS, op, innerXML(body), op, s.id(), op)
}

// innerXML strips the wrapper element xml.Marshal puts around a result.
func innerXML(b []byte) string {
	str := string(b)
	open := strings.Index(str, ">")
	closing := strings.LastIndex(str, "</")
	if open < 0 || closing < open {
		return ""
	}
	return str[open+1 : closing]
}

func writeXMLError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	var msg strings.Builder
	xml.EscapeText(&msg, []byte(e.message))
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`, elbNS, e.code, msg.String())
}

type xListener struct {
	ListenerArn     string   `xml:"ListenerArn"`
	LoadBalancerArn string   `xml:"LoadBalancerArn"`
	Port            int      `xml:"Port"`
	Protocol        string   `xml:"Protocol"`
	DefaultActions  []action `xml:"DefaultActions>member"`
}

type xRule struct {
	RuleArn   string   `xml:"RuleArn"`
	Priority  string   `xml:"Priority"`
	IsDefault bool     `xml:"IsDefault"`
	Actions   []action `xml:"Actions>member"`
}

type xTargetGroup struct {
	TargetGroupArn   string   `xml:"TargetGroupArn"`
	TargetGroupName  string   `xml:"TargetGroupName"`
	Protocol         string   `xml:"Protocol"`
	Port             int      `xml:"Port"`
	TargetType       string   `xml:"TargetType"`
	LoadBalancerArns []string `xml:"LoadBalancerArns>member"`
}

func (s *Server) describeListeners(f url.Values) (any, *apiError) {
	var out []xListener
	for _, arn := range members(f, "ListenerArns.member") {
		l := s.listeners[arn]
		if l == nil {
			return nil, &apiError{400, "ListenerNotFound", "One or more listeners not found"}
		}
		out = append(out, xListener{ListenerArn: l.arn, LoadBalancerArn: l.lb, Port: 80, Protocol: "HTTP", DefaultActions: s.read(arn, l.actions)})
	}
	return struct {
		XMLName   xml.Name    `xml:"R"`
		Listeners []xListener `xml:"Listeners>member"`
	}{Listeners: out}, nil
}

func (s *Server) describeRules(f url.Values) (any, *apiError) {
	var out []xRule
	for i, arn := range members(f, "RuleArns.member") {
		r := s.rules[arn]
		if r == nil {
			return nil, &apiError{400, "RuleNotFound", "One or more rules not found"}
		}
		out = append(out, xRule{RuleArn: r.arn, Priority: strconv.Itoa(i + 1), Actions: s.read(arn, r.actions)})
	}
	return struct {
		XMLName xml.Name `xml:"R"`
		Rules   []xRule  `xml:"Rules>member"`
	}{Rules: out}, nil
}

func (s *Server) describeTargetGroups(f url.Values) (any, *apiError) {
	var out []xTargetGroup
	for _, arn := range members(f, "TargetGroupArns.member") {
		tg := s.targetGroups[arn]
		if tg == nil {
			return nil, &apiError{400, "TargetGroupNotFound", "One or more target groups not found"}
		}
		out = append(out, xTargetGroup{TargetGroupArn: tg.arn, TargetGroupName: tg.name, Protocol: "HTTP", Port: 80, TargetType: "ip", LoadBalancerArns: tg.lbs})
	}
	return struct {
		XMLName      xml.Name       `xml:"R"`
		TargetGroups []xTargetGroup `xml:"TargetGroups>member"`
	}{TargetGroups: out}, nil
}

// modify replaces the actions of a listener or rule, refusing what ELB
// refuses: unknown target groups, weights outside 0–999, more than 5
// target groups, stickiness outside 1s–7d.
func (s *Server) modify(f url.Values, arn, field string) (any, *apiError) {
	var lb string
	var cur *[]action
	switch {
	case s.listeners[arn] != nil && field == "DefaultActions":
		lb, cur = s.listeners[arn].lb, &s.listeners[arn].actions
	case s.rules[arn] != nil && field == "Actions":
		lb, cur = s.listeners[s.rules[arn].listener].lb, &s.rules[arn].actions
	case field == "DefaultActions":
		return nil, &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	default:
		return nil, &apiError{400, "RuleNotFound", "One or more rules not found"}
	}
	acts, err := s.parseActions(f, field+".member")
	if err != nil {
		return nil, err
	}
	before := *cur
	*cur = acts
	s.wrote(arn, before)
	for _, a := range acts {
		if a.ForwardConfig == nil {
			continue
		}
		for _, t := range a.ForwardConfig.TargetGroups {
			tg := s.targetGroups[t.TargetGroupArn]
			if !contains(tg.lbs, lb) {
				tg.lbs = append(tg.lbs, lb) // forwarding associates it
			}
		}
	}
	if field == "DefaultActions" {
		l := s.listeners[arn]
		return struct {
			XMLName   xml.Name    `xml:"R"`
			Listeners []xListener `xml:"Listeners>member"`
		}{Listeners: []xListener{{ListenerArn: l.arn, LoadBalancerArn: l.lb, Port: 80, Protocol: "HTTP", DefaultActions: acts}}}, nil
	}
	return struct {
		XMLName xml.Name `xml:"R"`
		Rules   []xRule  `xml:"Rules>member"`
	}{Rules: []xRule{{RuleArn: arn, Priority: "1", Actions: acts}}}, nil
}

func (s *Server) parseActions(f url.Values, prefix string) ([]action, *apiError) {
	var acts []action
	for i := 1; f.Get(fmt.Sprintf("%s.%d.Type", prefix, i)) != ""; i++ {
		p := fmt.Sprintf("%s.%d.", prefix, i)
		a := action{Type: f.Get(p + "Type"), TargetGroupArn: f.Get(p + "TargetGroupArn")}
		a.Order, _ = strconv.Atoi(f.Get(p + "Order"))
		if a.Type != "forward" {
			return nil, &apiError{400, "ValidationError", "fakeaws models forward actions only"}
		}
		fw := &forward{}
		for j := 1; f.Get(fmt.Sprintf("%sForwardConfig.TargetGroups.member.%d.TargetGroupArn", p, j)) != ""; j++ {
			q := fmt.Sprintf("%sForwardConfig.TargetGroups.member.%d.", p, j)
			t := tgTuple{TargetGroupArn: f.Get(q + "TargetGroupArn")}
			if ws := f.Get(q + "Weight"); ws != "" {
				w, err := strconv.Atoi(ws)
				if err != nil || w < 0 || w > 999 {
					return nil, &apiError{400, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'weight' failed to satisfy constraint: Member must have value less than or equal to 999", ws)}
				}
				t.Weight = &w
			}
			fw.TargetGroups = append(fw.TargetGroups, t)
		}
		if a.TargetGroupArn != "" && len(fw.TargetGroups) == 0 {
			one := 1
			fw.TargetGroups = []tgTuple{{TargetGroupArn: a.TargetGroupArn, Weight: &one}}
		}
		if len(fw.TargetGroups) > 5 {
			return nil, &apiError{400, "TooManyTargetGroups", "You've reached the limit on the number of target groups per action"}
		}
		for _, t := range fw.TargetGroups {
			if s.targetGroups[t.TargetGroupArn] == nil {
				return nil, &apiError{400, "TargetGroupNotFound", "Target group '" + t.TargetGroupArn + "' not found"}
			}
		}
		if f.Get(p+"ForwardConfig.TargetGroupStickinessConfig.Enabled") == "true" {
			d, _ := strconv.Atoi(f.Get(p + "ForwardConfig.TargetGroupStickinessConfig.DurationSeconds"))
			if d < 1 || d > 604800 {
				return nil, &apiError{400, "ValidationError", "Stickiness duration must be between 1 and 604800 seconds"}
			}
			fw.Stickiness = sticky{Enabled: true, DurationSeconds: d}
		}
		a.ForwardConfig = fw
		if len(fw.TargetGroups) == 1 {
			a.TargetGroupArn = fw.TargetGroups[0].TargetGroupArn
		}
		acts = append(acts, a)
	}
	if len(acts) == 0 {
		return nil, &apiError{400, "ValidationError", "an action is required"}
	}
	return acts, nil
}

// members reads a query-protocol list (prefix.1, prefix.2, ...).
func members(f url.Values, prefix string) []string {
	var out []string
	for i := 1; f.Has(fmt.Sprintf("%s.%d", prefix, i)); i++ {
		out = append(out, f.Get(fmt.Sprintf("%s.%d", prefix, i)))
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// AttachTargetGroup attaches a target group to one more load balancer.
func (s *Server) AttachTargetGroup(targetGroupARN, loadBalancerARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tg := s.targetGroups[targetGroupARN]
	if !contains(tg.lbs, loadBalancerARN) {
		tg.lbs = append(tg.lbs, loadBalancerARN)
	}
}
