package notify

import (
	"path"
	"strings"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// router maps an event to receiver indexes. It is built once in New so
// Notify does no allocation-heavy work on the caller's goroutine.
type router struct {
	all    []int // every receiver, used when there are no routes
	routes []compiledRoute
	n      int
}

type compiledRoute struct {
	events    []string // lower-cased patterns
	rollouts  []string
	receivers []int
}

func newRouter(c v1alpha1.Notifications) router {
	idx := make(map[string]int, len(c.Receivers))
	r := router{n: len(c.Receivers)}
	for i, rc := range c.Receivers {
		idx[rc.Name] = i
		r.all = append(r.all, i)
	}
	for _, rt := range c.Routes {
		cr := compiledRoute{rollouts: rt.Rollouts}
		for _, e := range rt.Events {
			cr.events = append(cr.events, strings.ToLower(e))
		}
		for _, n := range rt.Receivers {
			if i, ok := idx[n]; ok {
				cr.receivers = append(cr.receivers, i)
			}
		}
		r.routes = append(r.routes, cr)
	}
	return r
}

// match returns the receivers that get ev, each once, in config order.
func (r router) match(ev Event) []int {
	if len(r.routes) == 0 {
		return r.all
	}
	hit := make([]bool, r.n)
	typ := strings.ToLower(ev.Type)
	for _, rt := range r.routes {
		if matchAny(rt.events, typ) && matchAny(rt.rollouts, ev.Rollout) {
			for _, i := range rt.receivers {
				hit[i] = true
			}
		}
	}
	var out []int
	for i, h := range hit {
		if h {
			out = append(out, i)
		}
	}
	return out
}

// matchAny reports whether s matches one of pats; an empty list matches all.
func matchAny(pats []string, s string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if p == s {
			return true
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
