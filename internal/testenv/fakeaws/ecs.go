package fakeaws

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// service is an ECS service of the fake.
type service struct {
	arn, name, clusterArn string
	controller            string
	desired               int
	taskSets              []*taskSet
}

// taskSet is a task set of the fake; pollsLeft describes until it is
// STEADY_STATE.
type taskSet struct {
	id, arn, externalID, status, taskDef, launchType string
	scale                                            float64
	loadBalancers                                    []any
	network                                          any
	pollsLeft                                        int
	created, updated                                 time.Time
}

// TaskSet is what a test sees of a task set.
type TaskSet struct {
	ARN, ExternalID, Status, TaskDefinition, StabilityStatus string
	Scale                                                    float64
	TargetGroups                                             []string
}

// AddService creates a service with the deployment controller type
// ("EXTERNAL", "ECS" or "CODE_DEPLOY") and desired count; it returns the
// service's ARN.
func (s *Server) AddService(cluster, name, controller string, desired int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", s.region, s.account, cluster, name)
	s.services[arn] = &service{arn: arn, name: name, controller: controller, desired: desired,
		clusterArn: fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", s.region, s.account, cluster)}
	return arn
}

// AddTaskDefinition registers a task definition with one container per
// name=image pair; it returns its ARN.
func (s *Server) AddTaskDefinition(family string, containers map[string]string) string {
	var defs []any
	for name, image := range containers {
		defs = append(defs, map[string]any{"name": name, "image": image, "essential": true})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	td, _ := s.register(map[string]any{"family": family, "containerDefinitions": defs, "networkMode": "awsvpc", "cpu": "256", "memory": "512"})
	return td["taskDefinitionArn"].(string)
}

// TaskSets lists the live task sets of a service.
func (s *Server) TaskSets(serviceARN string) []TaskSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskSet
	for _, ts := range s.services[serviceARN].taskSets {
		v := TaskSet{ARN: ts.arn, ExternalID: ts.externalID, Status: ts.status, TaskDefinition: ts.taskDef, Scale: ts.scale, StabilityStatus: "STABILIZING"}
		if ts.pollsLeft <= 0 {
			v.StabilityStatus = "STEADY_STATE"
		}
		for _, lb := range ts.loadBalancers {
			if m, ok := lb.(map[string]any); ok {
				v.TargetGroups = append(v.TargetGroups, str(m["targetGroupArn"]))
			}
		}
		out = append(out, v)
	}
	return out
}

// TaskDefinition returns a registered task definition as JSON.
func (s *Server) TaskDefinition(arn string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskDefs[arn]
}

func (s *Server) serveECS(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113.")
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSONError(w, &apiError{400, "SerializationException", err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.begin(op) {
		writeJSONError(w, &apiError{400, "ThrottlingException", "Rate exceeded"})
		return
	}
	var out any
	var err *apiError
	switch op {
	case "DescribeServices":
		out, err = s.describeServices(in)
	case "DescribeTaskSets":
		out, err = s.describeTaskSets(in)
	case "CreateTaskSet":
		out, err = s.createTaskSet(in)
	case "UpdateTaskSet":
		out, err = s.updateTaskSet(in)
	case "DeleteTaskSet":
		out, err = s.deleteTaskSet(in)
	case "UpdateServicePrimaryTaskSet":
		out, err = s.updatePrimary(in)
	case "RegisterTaskDefinition":
		td, e := s.register(in)
		out, err = map[string]any{"taskDefinition": td, "tags": in["tags"]}, e
	case "DescribeTaskDefinition":
		out, err = s.describeTaskDefinition(in)
	default:
		err = &apiError{400, "UnknownOperationException", op + " is not modelled by fakeaws"}
	}
	if err != nil {
		writeJSONError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

// findService resolves a cluster and service given by name or ARN.
func (s *Server) findService(in map[string]any) (*service, *apiError) {
	cluster, name := str(in["cluster"]), str(in["service"])
	if cluster == "" {
		cluster = "default"
	}
	for _, sv := range s.services {
		if (sv.arn == name || sv.name == name) && (sv.clusterArn == cluster || strings.HasSuffix(sv.clusterArn, "/"+cluster)) {
			return sv, nil
		}
	}
	return nil, &apiError{400, "ServiceNotFoundException", "Service not found."}
}

func (s *Server) describeServices(in map[string]any) (any, *apiError) {
	var svcs, failures []any
	for _, n := range list(in["services"]) {
		sv, err := s.findService(map[string]any{"cluster": in["cluster"], "service": n})
		if err != nil {
			failures = append(failures, map[string]any{"arn": n, "reason": "MISSING"})
			continue
		}
		var sets []any
		running := 0
		for _, ts := range sv.taskSets {
			v := s.taskSetJSON(sv, ts, true)
			running += v["runningCount"].(int)
			sets = append(sets, v)
		}
		svcs = append(svcs, map[string]any{
			"serviceArn": sv.arn, "serviceName": sv.name, "clusterArn": sv.clusterArn, "status": "ACTIVE",
			"desiredCount": sv.desired, "runningCount": running, "deploymentController": map[string]any{"type": sv.controller},
			"taskSets": sets,
		})
	}
	return map[string]any{"services": svcs, "failures": failures}, nil
}

func (s *Server) describeTaskSets(in map[string]any) (any, *apiError) {
	sv, err := s.findService(in)
	if err != nil {
		return nil, err
	}
	want := list(in["taskSets"])
	var sets, failures []any
	for _, w := range want {
		if ts := sv.taskSet(w); ts != nil {
			sets = append(sets, s.taskSetJSON(sv, ts, true))
		} else {
			failures = append(failures, map[string]any{"arn": w, "reason": "MISSING"})
		}
	}
	if len(want) == 0 {
		for _, ts := range sv.taskSets {
			sets = append(sets, s.taskSetJSON(sv, ts, true))
		}
	}
	return map[string]any{"taskSets": sets, "failures": failures}, nil
}

func (sv *service) taskSet(idOrARN string) *taskSet {
	for _, ts := range sv.taskSets {
		if ts.arn == idOrARN || ts.id == idOrARN {
			return ts
		}
	}
	return nil
}

// taskSetJSON describes a task set; a describe (poll) counts towards its
// stability, the answer to a write does not.
func (s *Server) taskSetJSON(sv *service, ts *taskSet, poll bool) map[string]any {
	computed := int(math.Ceil(float64(sv.desired) * ts.scale / 100))
	running, stability := computed, "STEADY_STATE"
	if ts.pollsLeft > 0 {
		if poll {
			ts.pollsLeft--
		}
		running, stability = computed/2, "STABILIZING"
	}
	return map[string]any{
		"id": ts.id, "taskSetArn": ts.arn, "serviceArn": sv.arn, "clusterArn": sv.clusterArn, "externalId": ts.externalID,
		"status": ts.status, "taskDefinition": ts.taskDef, "computedDesiredCount": computed, "runningCount": running,
		"pendingCount": computed - running, "launchType": ts.launchType, "loadBalancers": ts.loadBalancers,
		"networkConfiguration": ts.network, "scale": map[string]any{"value": ts.scale, "unit": "PERCENT"},
		"stabilityStatus": stability, "stabilityStatusAt": epoch(ts.updated), "createdAt": epoch(ts.created), "updatedAt": epoch(ts.updated),
	}
}

func (s *Server) createTaskSet(in map[string]any) (any, *apiError) {
	sv, err := s.findService(in)
	if err != nil {
		return nil, err
	}
	if sv.controller != "EXTERNAL" {
		return nil, invalid("Amazon ECS only supports task set management on services configured to use external deployment controllers.")
	}
	td := str(in["taskDefinition"])
	if s.findTaskDef(td) == nil {
		return nil, &apiError{400, "ClientException", "Unable to describe task definition " + td + "."}
	}
	lbs := listAny(in["loadBalancers"])
	for _, lb := range lbs {
		tg := str(lb.(map[string]any)["targetGroupArn"])
		if s.targetGroups[tg] == nil {
			return nil, invalid("Target group %s does not exist.", tg)
		}
	}
	id := "ecs-svc/" + s.id()
	now := time.Now()
	ts := &taskSet{id: id, arn: sv.arn[:strings.LastIndex(sv.arn, ":")+1] + "task-set/" + sv.name + "/" + id, externalID: str(in["externalId"]),
		status: "ACTIVE", taskDef: s.findTaskDef(td)["taskDefinitionArn"].(string), launchType: str(in["launchType"]),
		scale: scaleOf(in["scale"]), loadBalancers: lbs, network: in["networkConfiguration"], pollsLeft: s.stablePolls, created: now, updated: now}
	sv.taskSets = append(sv.taskSets, ts)
	return map[string]any{"taskSet": s.taskSetJSON(sv, ts, false)}, nil
}

// findTaskSet is the service and task set a request's "service" (with
// "cluster") and "taskSet" name, or ECS's error for the missing one.
func (s *Server) findTaskSet(in map[string]any) (*service, *taskSet, *apiError) {
	sv, err := s.findService(in)
	if err != nil {
		return nil, nil, err
	}
	ts := sv.taskSet(str(in["taskSet"]))
	if ts == nil {
		return nil, nil, &apiError{400, "TaskSetNotFoundException", "The specified task set does not exist."}
	}
	return sv, ts, nil
}

func (s *Server) updateTaskSet(in map[string]any) (any, *apiError) {
	sv, ts, err := s.findTaskSet(in)
	if err != nil {
		return nil, err
	}
	if v := scaleOf(in["scale"]); v != ts.scale {
		ts.scale, ts.pollsLeft, ts.updated = v, s.stablePolls, time.Now()
	}
	return map[string]any{"taskSet": s.taskSetJSON(sv, ts, false)}, nil
}

func (s *Server) deleteTaskSet(in map[string]any) (any, *apiError) {
	sv, ts, err := s.findTaskSet(in)
	if err != nil {
		return nil, err
	}
	if ts.status == "PRIMARY" && in["force"] != true {
		return nil, invalid("The specified task set is the primary task set of the service and cannot be deleted.")
	}
	v := s.taskSetJSON(sv, ts, false)
	v["status"] = "DRAINING"
	for i, t := range sv.taskSets {
		if t == ts {
			sv.taskSets = append(sv.taskSets[:i], sv.taskSets[i+1:]...)
			break
		}
	}
	return map[string]any{"taskSet": v}, nil
}

func (s *Server) updatePrimary(in map[string]any) (any, *apiError) {
	sv, err := s.findService(in)
	if err != nil {
		return nil, err
	}
	ts := sv.taskSet(str(in["primaryTaskSet"]))
	if ts == nil {
		return nil, &apiError{400, "TaskSetNotFoundException", "The specified task set does not exist."}
	}
	for _, t := range sv.taskSets {
		if t.status == "PRIMARY" {
			t.status = "ACTIVE"
		}
	}
	ts.status = "PRIMARY"
	return map[string]any{"taskSet": s.taskSetJSON(sv, ts, false)}, nil
}

// register stores a task definition as the family's next revision.
func (s *Server) register(in map[string]any) (map[string]any, *apiError) {
	fam := str(in["family"])
	if fam == "" || len(listAny(in["containerDefinitions"])) == 0 {
		return nil, &apiError{400, "ClientException", "family and containerDefinitions are required."}
	}
	s.families[fam]++
	td := map[string]any{}
	for k, v := range in {
		if k != "tags" {
			td[k] = v
		}
	}
	rev := s.families[fam]
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", s.region, s.account, fam, rev)
	td["taskDefinitionArn"], td["revision"], td["status"] = arn, rev, "ACTIVE"
	td["tags"] = in["tags"]
	s.taskDefs[arn] = td
	return withoutTags(td), nil
}

func withoutTags(td map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range td {
		if k != "tags" {
			out[k] = v
		}
	}
	return out
}

// findTaskDef resolves an ARN, family:revision or family (latest).
func (s *Server) findTaskDef(ref string) map[string]any {
	if td := s.taskDefs[ref]; td != nil {
		return td
	}
	if strings.Contains(ref, ":") {
		return s.taskDefs[fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s", s.region, s.account, ref)]
	}
	if n := s.families[ref]; n > 0 {
		return s.taskDefs[fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", s.region, s.account, ref, n)]
	}
	return nil
}

func (s *Server) describeTaskDefinition(in map[string]any) (any, *apiError) {
	td := s.findTaskDef(str(in["taskDefinition"]))
	if td == nil {
		return nil, &apiError{400, "ClientException", "Unable to describe task definition."}
	}
	return map[string]any{"taskDefinition": withoutTags(td), "tags": td["tags"]}, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []string {
	var out []string
	for _, x := range listAny(v) {
		out = append(out, str(x))
	}
	return out
}

func listAny(v any) []any {
	l, _ := v.([]any)
	return l
}

func scaleOf(v any) float64 {
	m, _ := v.(map[string]any)
	f, ok := m["value"].(float64)
	if !ok {
		return 100
	}
	return f
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
