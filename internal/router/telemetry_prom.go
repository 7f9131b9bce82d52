package router

import "github.com/prometheus/client_golang/prometheus"

var (
	descRequests = prometheus.NewDesc("kanaria_router_requests_total",
		"Requests proxied, by release, version, revision and status class (connfail = the upstream could not be reached).",
		[]string{"release", "version", "revision", "code_class"}, nil)
	descDuration = prometheus.NewDesc("kanaria_router_request_duration_seconds",
		"Time from request arrival until the response was fully written.",
		[]string{"release", "version", "revision"}, nil)
	descLoop = prometheus.NewDesc("kanaria_router_event_loop_requests_total",
		"Requests the event loop answered itself (served) or handed to the goroutine path (handed_off: bodies, upgrades, streamed answers, refusals).",
		[]string{"outcome"}, nil)
)

var classLabels = [numClasses]string{"connfail", "1xx", "2xx", "3xx", "4xx", "5xx"}

// histUpper are the histogram's finite upper bounds in seconds.
var histUpper = func() []float64 {
	b := make([]float64, histBuckets)
	for i := range b {
		b[i] = (histBase << i).Seconds()
	}
	return b
}()

// Describe implements prometheus.Collector.
func (t *Telemetry) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descDuration
	ch <- descLoop
}

// Collect implements prometheus.Collector. It reads the same atomics the hot
// path writes, so scraping never slows recording.
func (t *Telemetry) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descLoop, prometheus.CounterValue, float64(t.loop.Served.Load()), "served")
	ch <- prometheus.MustNewConstMetric(descLoop, prometheus.CounterValue, float64(t.loop.HandedOff.Load()), "handed_off")
	for _, s := range t.all() {
		for c := range s.classes {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue,
				float64(s.classes[c].Load()), s.release, string(s.version), s.revision, classLabels[c])
		}
		buckets := make(map[float64]uint64, histBuckets)
		var cum uint64
		for i, ub := range histUpper {
			cum += s.hist[i].Load()
			buckets[ub] = cum
		}
		count := cum + s.hist[histBuckets].Load()
		sum := float64(s.sumNs.Load()) / 1e9
		ch <- prometheus.MustNewConstHistogram(descDuration, count, sum, buckets, s.release, string(s.version), s.revision)
	}
}

var _ prometheus.Collector = (*Telemetry)(nil)
