package shadow

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Collector counts the differences of mirrored answers per endpoint and
// field. It is safe for concurrent use and bounded in memory (MaxEndpoints,
// MaxFields, MaxExamples, examples' bodies cut to 1 KiB).
type Collector struct {
	mu        sync.Mutex
	cmp       *Comparer
	revs      Revisions
	since     time.Time
	endpoints map[string]*endpointAcc
}

// Revisions are what was compared: the primary (stable, what users got),
// the candidate (the canary) and the secondary (the baseline copy of
// stable; empty when the release runs none, and noise is not measured).
type Revisions struct {
	Primary   string `json:"primary"`
	Candidate string `json:"candidate"`
	Secondary string `json:"secondary,omitempty"`
}

type endpointAcc struct {
	samples, noiseSamples int64
	fields                map[Field]*fieldAcc
}

type fieldAcc struct {
	cand, noise int64
	examples    []Example
}

// NewCollector returns an empty collector for the given revisions,
// started at now.
func NewCollector(cmp *Comparer, revs Revisions, now time.Time) *Collector {
	return &Collector{cmp: cmp, revs: revs, since: now, endpoints: map[string]*endpointAcc{}}
}

// Revisions returns what the collector compares.
func (c *Collector) Revisions() Revisions { return c.revs }

// SetComparer replaces the comparison for the answers still to come.
func (c *Collector) SetComparer(cmp *Comparer) {
	c.mu.Lock()
	c.cmp = cmp
	c.mu.Unlock()
}

// Add compares one mirrored request's answers: primary against candidate,
// and primary against secondary (nil when there is no baseline).
func (c *Collector) Add(req *Request, primary, candidate, secondary *Response) {
	c.mu.Lock()
	cmp := c.cmp
	c.mu.Unlock()
	cand := cmp.Diff(primary, candidate) // outside the lock: workers compare in parallel
	var noise []Field
	if secondary != nil {
		noise = cmp.Diff(primary, secondary)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := Endpoint(req.Method, req.Target)
	e := c.endpoints[key]
	if e == nil {
		if len(c.endpoints) >= MaxEndpoints {
			key = OtherEndpoint
			e = c.endpoints[key]
		}
		if e == nil {
			e = &endpointAcc{fields: map[Field]*fieldAcc{}}
			c.endpoints[key] = e
		}
	}
	e.samples++
	if secondary != nil {
		e.noiseSamples++
	}
	for _, f := range dedupe(cand, e) {
		fa := e.field(f)
		fa.cand++
		if len(fa.examples) < MaxExamples {
			fa.examples = append(fa.examples, c.example(req, primary, candidate, secondary))
		}
	}
	for _, f := range dedupe(noise, e) {
		e.field(f).noise++
	}
}

// dedupe maps fields past the endpoint's MaxFields to one "other" field,
// counted once per answer.
func dedupe(fs []Field, e *endpointAcc) []Field {
	out, other := fs[:0:0], false
	for _, f := range fs {
		if _, ok := e.fields[f]; ok || len(e.fields) < MaxFields {
			out = append(out, f)
			e.field(f) // reserve the slot
		} else if !other {
			other = true
			out = append(out, Field{Kind: KindOther})
		}
	}
	return out
}

func (e *endpointAcc) field(f Field) *fieldAcc {
	fa := e.fields[f]
	if fa == nil {
		fa = &fieldAcc{}
		e.fields[f] = fa
	}
	return fa
}

// Report is what the mirrored answers showed so far.
type Report struct {
	Release   string    `json:"release,omitempty"`
	Revisions Revisions `json:"revisions"`
	Since     time.Time `json:"since"`
	// Samples are the requests whose answers were compared; NoiseSamples
	// those also compared with the secondary.
	Samples      int64 `json:"samples"`
	NoiseSamples int64 `json:"noiseSamples"`
	// DifferenceAboveNoise is the largest candidate difference rate minus
	// noise rate over the significant fields of every endpoint (0 when no
	// field is significant): the judge's "difference rate above noise".
	DifferenceAboveNoise float64 `json:"differenceAboveNoise"`
	// Counters of the router's mirroring (filled in by the router).
	Counters Counters `json:"counters"`
	// Endpoints, those with significant differences first.
	Endpoints []EndpointReport `json:"endpoints"`
}

// Counters say what happened to the requests chosen for mirroring.
type Counters struct {
	// Sampled requests were chosen (by percentage, match and method).
	Sampled int64 `json:"sampled"`
	// Dropped: the queue was full (the canary is slow or dead) or the
	// primary's answer did not complete; nothing was sent.
	Dropped int64 `json:"dropped"`
	// SkippedBody: the request body was too long or not framed by length.
	SkippedBody int64 `json:"skippedBody"`
	// Compared requests got every answer they were sent for (an error or
	// timeout counts as an answer of status 0).
	Compared int64 `json:"compared"`
	// ShadowErrors are mirrored requests that failed or timed out.
	ShadowErrors int64 `json:"shadowErrors"`
	// InFlight and Queued are now.
	InFlight int64 `json:"inFlight"`
	Queued   int64 `json:"queued"`
}

// EndpointReport is one endpoint: method and normalised path.
type EndpointReport struct {
	Endpoint     string        `json:"endpoint"`
	Samples      int64         `json:"samples"`
	NoiseSamples int64         `json:"noiseSamples"`
	Fields       []FieldReport `json:"fields"`
}

// FieldReport is one field of one endpoint.
type FieldReport struct {
	Field
	// CandidateRate is the share of samples where the candidate's field
	// differed from the primary's; NoiseRate the share where the
	// secondary's did.
	CandidateDiffs int64   `json:"candidateDiffs"`
	NoiseDiffs     int64   `json:"noiseDiffs"`
	CandidateRate  float64 `json:"candidateRate"`
	NoiseRate      float64 `json:"noiseRate"`
	// Significant: above noise by both thresholds.
	Significant bool      `json:"significant"`
	Examples    []Example `json:"examples,omitempty"`
}

// Example is one request whose candidate answer differed, with configured
// headers and cookies redacted and bodies cut to 1 KiB.
type Example struct {
	Method    string              `json:"method"`
	Target    string              `json:"target"`
	Header    map[string][]string `json:"header,omitempty"`
	Primary   ExampleAnswer       `json:"primary"`
	Candidate ExampleAnswer       `json:"candidate"`
	Secondary *ExampleAnswer      `json:"secondary,omitempty"`
}

// ExampleAnswer is one answer of an Example.
type ExampleAnswer struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header,omitempty"`
	Body   string              `json:"body,omitempty"`
	Error  string              `json:"error,omitempty"`
}

func (c *Collector) example(req *Request, p, cand, sec *Response) Example {
	ex := Example{Method: req.Method, Target: req.Target, Header: c.cmp.redactHeader(req.Header),
		Primary: c.answer(p), Candidate: c.answer(cand)}
	if sec != nil {
		a := c.answer(sec)
		ex.Secondary = &a
	}
	return ex
}

func (c *Collector) answer(r *Response) ExampleAnswer {
	b := r.Body
	if len(b) > maxExampleBody {
		b = b[:maxExampleBody]
	}
	body := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	if r.Truncated || len(r.Body) > maxExampleBody {
		body += "…"
	}
	return ExampleAnswer{Status: r.Status, Header: c.cmp.redactHeader(r.Header), Body: body, Error: r.Err}
}

// Report returns the counts so far.
func (c *Collector) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := Report{Revisions: c.revs, Since: c.since, Endpoints: []EndpointReport{}}
	for key, e := range c.endpoints {
		er := EndpointReport{Endpoint: key, Samples: e.samples, NoiseSamples: e.noiseSamples, Fields: []FieldReport{}}
		rep.Samples += e.samples
		rep.NoiseSamples += e.noiseSamples
		for f, fa := range e.fields {
			if fa.cand == 0 && fa.noise == 0 {
				continue
			}
			fr := FieldReport{Field: f, CandidateDiffs: fa.cand, NoiseDiffs: fa.noise,
				CandidateRate: rate(fa.cand, e.samples), NoiseRate: rate(fa.noise, e.noiseSamples),
				Examples: slices.Clone(fa.examples)}
			fr.Significant = c.cmp.Significant(fr.CandidateRate, fr.NoiseRate)
			if fr.Significant {
				rep.DifferenceAboveNoise = max(rep.DifferenceAboveNoise, fr.CandidateRate-fr.NoiseRate)
			}
			er.Fields = append(er.Fields, fr)
		}
		sort.Slice(er.Fields, func(i, j int) bool {
			a, b := er.Fields[i], er.Fields[j]
			if a.Significant != b.Significant {
				return a.Significant
			}
			if a.CandidateRate-a.NoiseRate != b.CandidateRate-b.NoiseRate {
				return a.CandidateRate-a.NoiseRate > b.CandidateRate-b.NoiseRate
			}
			return a.Field.String() < b.Field.String()
		})
		rep.Endpoints = append(rep.Endpoints, er)
	}
	sort.Slice(rep.Endpoints, func(i, j int) bool {
		a, b := rep.Endpoints[i], rep.Endpoints[j]
		if sa, sb := a.significant(), b.significant(); sa != sb {
			return sa
		}
		if a.Samples != b.Samples {
			return a.Samples > b.Samples
		}
		return a.Endpoint < b.Endpoint
	})
	return rep
}

func (e EndpointReport) significant() bool {
	return slices.ContainsFunc(e.Fields, func(f FieldReport) bool { return f.Significant })
}

func rate(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
