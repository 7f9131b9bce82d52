package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/awsapi"
)

// ECS runs each revision of a rollout as a task set of an ECS service whose
// deployment controller is EXTERNAL (the only kind whose task sets a caller
// may manage). A task set is kanaria's when its externalId is
// "kanaria/<rollout>/<revision>", so what runs is read back from ECS itself
// after a restart. The stable task set is PRIMARY and registered in one of
// the spec's two target groups; a canary (or green) task set gets the other
// one. Promote makes a revision's task set 100 % and PRIMARY, after which
// the target groups have swapped roles.
//
// State is served from the last describe: a background loop describes the
// service every PollInterval, and every change describes it again.
type ECS struct {
	rollout string
	spec    v1alpha1.ECSPlatform
	full    bool // every task set at 100 % (blue/green)
	client  *ecs.Client
	log     *slog.Logger
	stop    chan struct{}
	wg      sync.WaitGroup

	mu   sync.Mutex
	sets map[string]types.TaskSet // kanaria's live task sets by revision
	err  error                    // of the last describe
	seen bool                     // described at least once
}

// ECSOptions are what the ECS platform needs beyond its spec.
type ECSOptions struct {
	// FullScale starts every task set at 100 % (blue/green's green).
	FullScale bool
	Logger    *slog.Logger
}

// NewECS returns the platform and starts describing the service.
func NewECS(ctx context.Context, rollout string, spec v1alpha1.ECSPlatform, opts ECSOptions) (*ECS, error) {
	cfg, err := awsapi.Config(ctx, spec.AWS)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &ECS{rollout: rollout, spec: spec, full: opts.FullScale, client: ecs.NewFromConfig(cfg), log: opts.Logger,
		stop: make(chan struct{}), sets: map[string]types.TaskSet{}}
	poll := spec.PollInterval.D()
	if poll <= 0 {
		poll = 5 * time.Second
	}
	e.wg.Add(1)
	go e.loop(poll)
	return e, nil
}

// Capabilities: task sets are really created and deleted; one per
// revision, so no baseline copy and no logs.
func (e *ECS) Capabilities() []Capability { return []Capability{CanStart, CanStop} }

// TargetGroups are the two target groups the task sets register in.
func (e *ECS) TargetGroups() []string { return slices.Clone(e.spec.TargetGroups) }

func (e *ECS) loop(every time.Duration) {
	defer e.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := e.refresh(ctx); err != nil {
				e.log.Warn("describing the ECS service", "rollout", e.rollout, "err", err)
			}
			cancel()
		}
	}
}

func (e *ECS) resource() string {
	return fmt.Sprintf("ecs service %s in cluster %s", e.spec.Service, e.spec.Cluster)
}

func (e *ECS) externalID(revision string) string { return "kanaria/" + e.rollout + "/" + revision }

// describe reads the service; its task sets are included for EXTERNAL.
func (e *ECS) describe(ctx context.Context) (types.Service, error) {
	out, err := e.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &e.spec.Cluster, Services: []string{e.spec.Service}})
	if err != nil {
		return types.Service{}, awsapi.Err(e.resource(), err)
	}
	if len(out.Services) == 0 {
		reason := "not found"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
		}
		return types.Service{}, &InvalidError{Field: "spec.platform.ecs.service", Reason: fmt.Sprintf("%s: %s", e.resource(), reason)}
	}
	return out.Services[0], nil
}

// refresh describes the service and keeps kanaria's task sets.
func (e *ECS) refresh(ctx context.Context) error {
	svc, err := e.describe(ctx)
	sets := map[string]types.TaskSet{}
	prefix := e.externalID("")
	for _, ts := range svc.TaskSets {
		if id := aws.ToString(ts.ExternalId); strings.HasPrefix(id, prefix) && aws.ToString(ts.Status) != "DRAINING" {
			sets[strings.TrimPrefix(id, prefix)] = ts
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
	if err == nil {
		e.sets, e.seen = sets, true
	}
	return err
}

// Validate checks the service and the task definition template against the
// spec, changing nothing: the service exists and is ACTIVE, its deployment
// controller is EXTERNAL, and the template's family and containers exist.
// What is wrong with the spec is an *InvalidError.
func (e *ECS) Validate(ctx context.Context) error {
	svc, err := e.describe(ctx)
	if err != nil {
		return err
	}
	if st := aws.ToString(svc.Status); st != "ACTIVE" {
		return invalid("spec.platform.ecs.service", "%s is %s, not ACTIVE", e.resource(), st)
	}
	ctl := "ECS"
	if svc.DeploymentController != nil {
		ctl = string(svc.DeploymentController.Type)
	}
	if ctl != string(types.DeploymentControllerTypeExternal) {
		return invalid("spec.platform.ecs.service", "%s has the %s deployment controller; kanaria manages task sets, which ECS allows only with the EXTERNAL deployment controller (create the service with deploymentController type EXTERNAL)", e.resource(), ctl)
	}
	td, err := e.template(ctx)
	if err != nil {
		return err
	}
	if _, err := e.render(td, "v1"); err != nil {
		return err
	}
	names := taskDefContainers(td)
	if !slices.Contains(names, e.spec.ContainerName) {
		return invalid("spec.platform.ecs.containerName", "%q is not a container of task definition %s (it has %s)", e.spec.ContainerName, aws.ToString(td.TaskDefinitionArn), strings.Join(names, ", "))
	}
	return nil
}

// Ensure makes the revision's task set exist: registered in the target
// group no other of kanaria's task sets uses, at 100 % when it is the first
// (and then PRIMARY) or the platform is FullScale, at canaryScale otherwise.
func (e *ECS) Ensure(ctx context.Context, in Instance) error {
	if in.Baseline {
		return errors.New("ecs: no baseline copy: one task set per revision")
	}
	if err := e.refresh(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	_, exists := e.sets[in.Revision]
	others := map[string]types.TaskSet{}
	for rev, ts := range e.sets {
		others[rev] = ts
	}
	e.mu.Unlock()
	if exists {
		return nil
	}
	tg, err := e.freeTargetGroup(others)
	if err != nil {
		return err
	}
	scale := 100.0
	if len(others) > 0 && !e.full && e.spec.CanaryScale != nil {
		scale = *e.spec.CanaryScale
	}
	tdARN, err := e.register(ctx, in.Revision)
	if err != nil {
		return err
	}
	input := &ecs.CreateTaskSetInput{
		Cluster: &e.spec.Cluster, Service: &e.spec.Service, TaskDefinition: &tdARN, ExternalId: aws.String(e.externalID(in.Revision)),
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: &tg, ContainerName: &e.spec.ContainerName, ContainerPort: aws.Int32(e.spec.ContainerPort)}},
		Scale:         &types.Scale{Unit: types.ScaleUnitPercent, Value: scale},
		LaunchType:    types.LaunchType(orDefault(e.spec.LaunchType, "FARGATE")),
	}
	if len(e.spec.Subnets) > 0 {
		pub := types.AssignPublicIpDisabled
		if e.spec.AssignPublicIP {
			pub = types.AssignPublicIpEnabled
		}
		input.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: e.spec.Subnets, SecurityGroups: e.spec.SecurityGroups, AssignPublicIp: pub}}
	}
	out, err := e.client.CreateTaskSet(ctx, input)
	if err != nil {
		return awsapi.Err(fmt.Sprintf("%s, task set of %s", e.resource(), in.Revision), err)
	}
	e.log.Info("task set created", "rollout", e.rollout, "revision", in.Revision, "taskSet", aws.ToString(out.TaskSet.TaskSetArn), "targetGroup", tg, "scale", scale)
	if len(others) == 0 {
		if err := e.makePrimary(ctx, in.Revision, out.TaskSet); err != nil {
			return err
		}
	}
	return e.refresh(ctx)
}

// freeTargetGroup is the spec's target group no live task set uses.
func (e *ECS) freeTargetGroup(sets map[string]types.TaskSet) (string, error) {
	used := map[string]string{}
	for rev, ts := range sets {
		for _, lb := range ts.LoadBalancers {
			used[aws.ToString(lb.TargetGroupArn)] = rev
		}
	}
	for _, tg := range e.spec.TargetGroups {
		if _, ok := used[tg]; !ok {
			return tg, nil
		}
	}
	var busy []string
	for _, tg := range e.spec.TargetGroups {
		busy = append(busy, fmt.Sprintf("%s by revision %s", tg, used[tg]))
	}
	return "", fmt.Errorf("ecs: both target groups are in use (%s); a new task set can start once one of them is deleted", strings.Join(busy, ", "))
}

// Promote makes the revision's task set the service's whole capacity:
// scale 100 % and PRIMARY. It is idempotent; State is not Ready while the
// scale-up stabilizes, so traffic waits for it.
func (e *ECS) Promote(ctx context.Context, revision string) error {
	e.mu.Lock()
	ts, ok := e.sets[revision]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("ecs: no task set of %s to promote", revision)
	}
	changed := false
	if ts.Scale == nil || ts.Scale.Value != 100 {
		_, err := e.client.UpdateTaskSet(ctx, &ecs.UpdateTaskSetInput{Cluster: &e.spec.Cluster, Service: &e.spec.Service,
			TaskSet: ts.TaskSetArn, Scale: &types.Scale{Unit: types.ScaleUnitPercent, Value: 100}})
		if err != nil {
			return awsapi.Err(fmt.Sprintf("%s, task set of %s", e.resource(), revision), err)
		}
		changed = true
	}
	if aws.ToString(ts.Status) != "PRIMARY" {
		if err := e.makePrimary(ctx, revision, &ts); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return e.refresh(ctx)
	}
	return nil
}

func (e *ECS) makePrimary(ctx context.Context, revision string, ts *types.TaskSet) error {
	_, err := e.client.UpdateServicePrimaryTaskSet(ctx, &ecs.UpdateServicePrimaryTaskSetInput{Cluster: &e.spec.Cluster, Service: &e.spec.Service, PrimaryTaskSet: ts.TaskSetArn})
	if err != nil {
		return awsapi.Err(fmt.Sprintf("%s, task set of %s", e.resource(), revision), err)
	}
	e.log.Info("task set is PRIMARY", "rollout", e.rollout, "revision", revision)
	return nil
}

// Stop deletes the revision's task set (idempotent).
func (e *ECS) Stop(ctx context.Context, in Instance) error {
	if in.Baseline {
		return nil
	}
	if err := e.refresh(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	ts, ok := e.sets[in.Revision]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	_, err := e.client.DeleteTaskSet(ctx, &ecs.DeleteTaskSetInput{Cluster: &e.spec.Cluster, Service: &e.spec.Service, TaskSet: ts.TaskSetArn})
	var nf *types.TaskSetNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return awsapi.Err(fmt.Sprintf("%s, task set of %s", e.resource(), in.Revision), err)
	}
	e.log.Info("task set deleted", "rollout", e.rollout, "revision", in.Revision, "taskSet", aws.ToString(ts.TaskSetArn))
	return e.refresh(ctx)
}

// State is the revision's task set as last described: ready when ECS says
// STEADY_STATE and every task it asks for runs. Its endpoint is the target
// group it is registered in.
func (e *ECS) State(in Instance) (State, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if in.Baseline || !e.seen {
		return State{}, false
	}
	ts, ok := e.sets[in.Revision]
	if !ok {
		return State{}, false
	}
	st := State{Ready: ts.StabilityStatus == types.StabilityStatusSteadyState && ts.RunningCount >= ts.ComputedDesiredCount && ts.ComputedDesiredCount > 0}
	for _, lb := range ts.LoadBalancers {
		st.Endpoints = append(st.Endpoints, aws.ToString(lb.TargetGroupArn))
	}
	if !st.Ready {
		st.Reason = fmt.Sprintf("task set %s: %s, %d of %d tasks running", aws.ToString(ts.Id), ts.StabilityStatus, ts.RunningCount, ts.ComputedDesiredCount)
	}
	return st, true
}

// Running lists the revisions whose task sets are kanaria's, as ECS says.
func (e *ECS) Running(ctx context.Context) ([]Instance, error) {
	if err := e.refresh(ctx); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Instance
	for rev := range e.sets {
		out = append(out, Instance{Rollout: e.rollout, Revision: rev})
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.Revision, b.Revision) })
	return out, nil
}

// Close stops describing; the task sets keep running.
func (e *ECS) Close(context.Context) error {
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	e.wg.Wait()
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
