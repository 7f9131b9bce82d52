package fakeaws

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// metricKey is one AWS/ApplicationELB series: a metric of a target group
// behind one load balancer (the dimensions are the ARNs' suffixes).
type metricKey struct{ metric, targetGroup, loadBalancer string }

type point struct {
	t time.Time
	v float64
}

// PutMetric adds a datapoint of an AWS/ApplicationELB metric
// ("RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime" in
// seconds) for a target group behind a load balancer.
func (s *Server) PutMetric(targetGroupARN, loadBalancerARN, metric string, at time.Time, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := metricKey{metric, TargetGroupDimension(targetGroupARN), LoadBalancerDimension(loadBalancerARN)}
	s.metrics[k] = append(s.metrics[k], point{at, v})
}

// TargetGroupDimension is CloudWatch's TargetGroup dimension of an ARN
// ("targetgroup/web-a/0123").
func TargetGroupDimension(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// LoadBalancerDimension is CloudWatch's LoadBalancer dimension of an ARN
// ("app/web/0123").
func LoadBalancerDimension(arn string) string {
	_, after, _ := strings.Cut(arn, ":loadbalancer/")
	return after
}

func (s *Server) serveCloudWatch(w http.ResponseWriter, r *http.Request) {
	op := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	fail := func(status int, code, msg string) {
		w.Header().Set("X-Amzn-Query-Error", code+";Sender")
		w.WriteHeader(status)
		w.Write(cbor.Encode(cbor.Map{"__type": cbor.String(code), "message": cbor.String(msg)}))
	}
	if s.begin(op) {
		fail(400, "Throttling", "Rate exceeded")
		return
	}
	if op != "GetMetricData" {
		fail(400, "InvalidAction", op+" is not modelled by fakeaws")
		return
	}
	v, err := cbor.Decode(body)
	in, ok := v.(cbor.Map)
	if err != nil || !ok {
		fail(400, "SerializationException", "cannot decode the CBOR body")
		return
	}
	start, err1 := cbor.AsTime(in["StartTime"])
	end, err2 := cbor.AsTime(in["EndTime"])
	if err1 != nil || err2 != nil || !end.After(start) {
		fail(400, "InvalidParameterValue", "StartTime must be before EndTime")
		return
	}
	var results cbor.List
	for _, qv := range asList(in["MetricDataQueries"]) {
		q, _ := qv.(cbor.Map)
		res, msg := s.query(q, start, end)
		if msg != "" {
			fail(400, "InvalidParameterValue", msg)
			return
		}
		results = append(results, res)
	}
	w.Write(cbor.Encode(cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}))
}

// query answers one MetricStat query: one value per period that has data,
// newest first (ScanBy's default, TimestampDescending).
func (s *Server) query(q cbor.Map, start, end time.Time) (cbor.Map, string) {
	ms, _ := q["MetricStat"].(cbor.Map)
	m, _ := ms["Metric"].(cbor.Map)
	if asString(m["Namespace"]) != "AWS/ApplicationELB" {
		return nil, "fakeaws models the AWS/ApplicationELB namespace only"
	}
	k := metricKey{metric: asString(m["MetricName"])}
	for _, dv := range asList(m["Dimensions"]) {
		d, _ := dv.(cbor.Map)
		switch asString(d["Name"]) {
		case "TargetGroup":
			k.targetGroup = asString(d["Value"])
		case "LoadBalancer":
			k.loadBalancer = asString(d["Value"])
		}
	}
	period, err := cbor.AsInt64(ms["Period"])
	if err != nil || period <= 0 {
		return nil, "Period must be a positive number of seconds"
	}
	buckets := map[int64][]float64{}
	for _, p := range s.metrics[k] {
		if p.t.Before(start) || !p.t.Before(end) {
			continue
		}
		b := p.t.Unix() - (p.t.Unix()-start.Unix())%period
		buckets[b] = append(buckets[b], p.v)
	}
	keys := make([]int64, 0, len(buckets))
	for b := range buckets {
		keys = append(keys, b)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	var ts, vs cbor.List
	stat := asString(ms["Stat"])
	for _, b := range keys {
		v, ok := statistic(stat, buckets[b])
		if !ok {
			return nil, "unknown statistic " + stat
		}
		ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(b))})
		vs = append(vs, cbor.Float64(v))
	}
	return cbor.Map{"Id": q["Id"], "Label": cbor.String(k.metric), "Timestamps": ts, "Values": vs, "StatusCode": cbor.String("Complete")}, ""
}

func statistic(stat string, xs []float64) (float64, bool) {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	switch {
	case stat == "Sum":
		return sum, true
	case stat == "Average":
		return sum / float64(len(xs)), true
	case stat == "SampleCount":
		return float64(len(xs)), true
	case stat == "Maximum":
		sort.Float64s(xs)
		return xs[len(xs)-1], true
	case strings.HasPrefix(stat, "p"):
		var q float64
		if _, err := fmt.Sscan(stat[1:], &q); err != nil || q <= 0 || q > 100 {
			return 0, false
		}
		sort.Float64s(xs)
		i := int(math.Ceil(q/100*float64(len(xs)))) - 1
		return xs[max(0, i)], true
	}
	return 0, false
}

func asList(v cbor.Value) cbor.List {
	l, _ := v.(cbor.List)
	return l
}

func asString(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}
