package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/analysis/judge"
	"github.com/kanaria-dev/kanaria/internal/awsapi"
)

// cloudWatchTimeout bounds one Fetch (its describe and GetMetricData
// pages, retries included).
const cloudWatchTimeout = 30 * time.Second

// TargetGroups says which ELB target group serves a revision, for
// providers that measure at the load balancer (the ECS platform knows).
type TargetGroups interface {
	// TargetGroupOf is the ARN of the target group revision is registered
	// in; ok is false when it runs nowhere.
	TargetGroupOf(revision string) (arn string, ok bool)
}

// CloudWatch measures a metric from the ALB's per-target-group metrics
// (namespace AWS/ApplicationELB) with GetMetricData, summed over every load
// balancer the target group belongs to: RequestCount and
// HTTPCode_Target_5XX_Count for error rates and request rates,
// TargetResponseTime for latency. CloudWatch has no per-request data: a
// latency comparison takes one sample per period and load balancer (the
// period's Stat), so it needs a window of several periods.
type CloudWatch struct {
	cfg  v1alpha1.CloudWatchMetric
	kind judge.Kind
	tgs  TargetGroups
	cw   *cloudwatch.Client
	elb  *elbv2.Client
}

// NewCloudWatch returns the provider of one metric.
func NewCloudWatch(cfg v1alpha1.CloudWatchMetric, kind judge.Kind, platformAWS v1alpha1.AWS, tgs TargetGroups) (*CloudWatch, error) {
	if tgs == nil {
		return nil, fmt.Errorf("cloudwatch: the platform does not run revisions behind ELB target groups (platform.ecs)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := awsapi.Config(ctx, awsapi.Or(cfg.AWS, platformAWS))
	if err != nil {
		return nil, err
	}
	return &CloudWatch{cfg: cfg, kind: kind, tgs: tgs, cw: cloudwatch.NewFromConfig(c), elb: elbv2.NewFromConfig(c)}, nil
}

// Capabilities: counts per target group feed error rates; per-period
// latencies feed comparisons and thresholds; it asks AWS (Remote).
func (c *CloudWatch) Capabilities() Capabilities {
	return Capabilities{Kinds: []judge.Kind{judge.ErrorRate, judge.Latency, judge.Threshold}, Remote: true}
}

func (c *CloudWatch) measure() string {
	if c.cfg.Measure != "" {
		return c.cfg.Measure
	}
	return c.kind.String()
}

func (c *CloudWatch) period() time.Duration {
	if p := c.cfg.Period.D(); p > 0 {
		return p
	}
	return time.Minute
}

func (c *CloudWatch) stat() string {
	if c.cfg.Stat != "" {
		return c.cfg.Stat
	}
	return "Average"
}

// side is what CloudWatch says of one revision's target group.
type side struct {
	tg            string
	lbs           []string
	requests, err float64
	latencies     []float64 // ms, one per period and load balancer
}

// Fetch reads the window [q.Start, q.Now) for the canary's target group
// and, for comparisons, for the compared revision's.
func (c *CloudWatch) Fetch(ctx context.Context, q Query) (judge.Input, error) {
	// Bounded here: a remote fetch runs off the tick, and the SDK retries
	// throttling with backoff within this time.
	ctx, cancel := context.WithTimeout(ctx, cloudWatchTimeout)
	defer cancel()
	in := judge.Input{Query: c.describe(q)}
	canary, err := c.side(ctx, q, q.Revision)
	if err != nil {
		return in, err
	}
	in.Query = c.describe(q, canary)
	if c.kind == judge.Threshold {
		return c.threshold(in, canary, q)
	}
	other, err := c.side(ctx, q, q.CompareRevision)
	if err != nil {
		return in, err
	}
	in.Query = c.describe(q, canary, other)
	switch c.kind {
	case judge.ErrorRate:
		in.CanaryErrors, in.CanaryTotal = int64(canary.err), int64(canary.requests)
		in.BaselineErrors, in.BaselineTotal = int64(other.err), int64(other.requests)
	case judge.Latency:
		in.Canary, in.Baseline = canary.latencies, other.latencies
	}
	return in, nil
}

func (c *CloudWatch) threshold(in judge.Input, s side, q Query) (judge.Input, error) {
	var v float64
	switch c.measure() {
	case "errorRate":
		if s.requests == 0 {
			return in, nil
		}
		v = s.err / s.requests
	case "latency":
		if len(s.latencies) == 0 {
			return in, nil
		}
		for _, l := range s.latencies {
			v += l
		}
		v /= float64(len(s.latencies))
	case "requestRate":
		secs := q.Now.Sub(q.Start).Seconds()
		if secs <= 0 {
			return in, nil
		}
		v = s.requests / secs
	default:
		return in, fmt.Errorf("unknown measure %s", c.measure())
	}
	in.Value = &v
	return in, nil
}

// side measures revision's target group behind each of its load balancers.
func (c *CloudWatch) side(ctx context.Context, q Query, revision string) (side, error) {
	tg, ok := c.tgs.TargetGroupOf(revision)
	if !ok {
		return side{}, fmt.Errorf("cloudwatch: revision %s is in no target group", revision)
	}
	out, err := c.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{tg}})
	if err != nil {
		return side{}, awsapi.Err("elb target group "+tg, err)
	}
	s := side{tg: tg}
	for _, g := range out.TargetGroups {
		s.lbs = append(s.lbs, g.LoadBalancerArns...)
	}
	if len(s.lbs) == 0 {
		return s, fmt.Errorf("cloudwatch: target group %s is attached to no load balancer, so it has no metrics", tg)
	}
	var queries []cwtypes.MetricDataQuery
	period := int32(c.period().Seconds())
	for i, lb := range s.lbs {
		dims := []cwtypes.Dimension{
			{Name: aws.String("TargetGroup"), Value: aws.String(tgDimension(tg))},
			{Name: aws.String("LoadBalancer"), Value: aws.String(lbDimension(lb))},
		}
		for _, m := range []struct{ id, name, stat string }{
			{"req", "RequestCount", "Sum"}, {"err", "HTTPCode_Target_5XX_Count", "Sum"}, {"lat", "TargetResponseTime", c.stat()},
		} {
			queries = append(queries, cwtypes.MetricDataQuery{Id: aws.String(fmt.Sprintf("%s%d", m.id, i)), ReturnData: aws.Bool(true),
				MetricStat: &cwtypes.MetricStat{Period: &period, Stat: aws.String(m.stat),
					Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String(m.name), Dimensions: dims}}})
		}
	}
	start := q.Start.Truncate(c.period())
	in := &cloudwatch.GetMetricDataInput{StartTime: &start, EndTime: aws.Time(q.Now), MetricDataQueries: queries}
	for p := cloudwatch.NewGetMetricDataPaginator(c.cw, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s, awsapi.Err("cloudwatch metrics of target group "+tgDimension(tg), err)
		}
		for _, r := range page.MetricDataResults {
			for _, v := range r.Values {
				switch id := aws.ToString(r.Id); {
				case strings.HasPrefix(id, "req"):
					s.requests += v
				case strings.HasPrefix(id, "err"):
					s.err += v
				case strings.HasPrefix(id, "lat"):
					s.latencies = append(s.latencies, v*1000)
				}
			}
		}
	}
	return s, nil
}

// describe is the query as run, for the verdict.
func (c *CloudWatch) describe(q Query, sides ...side) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudwatch %s of canary %s", c.measure(), q.Revision)
	if len(sides) > 0 {
		fmt.Fprintf(&b, " (%s)", tgDimension(sides[0].tg))
	}
	if c.kind != judge.Threshold {
		fmt.Fprintf(&b, " vs %s %s", q.ComparedWith, q.CompareRevision)
		if len(sides) > 1 {
			fmt.Fprintf(&b, " (%s)", tgDimension(sides[1].tg))
		}
	}
	if c.measure() == "latency" {
		fmt.Fprintf(&b, ", TargetResponseTime %s", c.stat())
	}
	fmt.Fprintf(&b, ", per %s, since %s", c.period(), q.Start.UTC().Format("15:04:05"))
	return b.String()
}

// tgDimension is CloudWatch's TargetGroup dimension of an ARN
// ("targetgroup/web-a/0123").
func tgDimension(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// lbDimension is CloudWatch's LoadBalancer dimension ("app/web/0123").
func lbDimension(arn string) string {
	_, after, _ := strings.Cut(arn, ":loadbalancer/")
	return after
}
