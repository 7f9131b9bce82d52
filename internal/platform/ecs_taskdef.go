package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/awsapi"
)

// Tags kanaria puts on the task definitions it registers.
const (
	TagRollout  = "kanaria.dev/rollout"
	TagRevision = "kanaria.dev/revision"
)

// template reads the task definition the spec copies from.
func (e *ECS) template(ctx context.Context) (*types.TaskDefinition, error) {
	from := e.spec.TaskDefinition.From
	out, err := e.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: &from})
	if err != nil {
		var ce *types.ClientException
		if errors.As(err, &ce) {
			return nil, invalid("spec.platform.ecs.taskDefinition.from", "task definition %s: %s", from, aws.ToString(ce.Message))
		}
		return nil, awsapi.Err("ecs task definition "+from, err)
	}
	return out.TaskDefinition, nil
}

// render is the registration of revision: td with each listed container's
// image and env rendered from the revision.
func (e *ECS) render(td *types.TaskDefinition, revision string) (*ecs.RegisterTaskDefinitionInput, error) {
	in := &ecs.RegisterTaskDefinitionInput{
		Family: td.Family, ContainerDefinitions: append([]types.ContainerDefinition(nil), td.ContainerDefinitions...),
		Cpu: td.Cpu, Memory: td.Memory, NetworkMode: td.NetworkMode, ExecutionRoleArn: td.ExecutionRoleArn, TaskRoleArn: td.TaskRoleArn,
		RequiresCompatibilities: td.RequiresCompatibilities, Volumes: td.Volumes, PlacementConstraints: td.PlacementConstraints,
		RuntimePlatform: td.RuntimePlatform, EphemeralStorage: td.EphemeralStorage, PidMode: td.PidMode, IpcMode: td.IpcMode,
		ProxyConfiguration: td.ProxyConfiguration, InferenceAccelerators: td.InferenceAccelerators, EnableFaultInjection: td.EnableFaultInjection,
		Tags: []types.Tag{{Key: aws.String(TagRollout), Value: aws.String(e.rollout)}, {Key: aws.String(TagRevision), Value: aws.String(revision)}},
	}
	for i, c := range e.spec.TaskDefinition.Containers {
		field := fmt.Sprintf("spec.platform.ecs.taskDefinition.containers[%d]", i)
		j := -1
		for k, def := range in.ContainerDefinitions {
			if aws.ToString(def.Name) == c.Name {
				j = k
			}
		}
		if j < 0 {
			return nil, invalid(field+".name", "%q is not a container of task definition %s (it has %s)", c.Name, aws.ToString(td.TaskDefinitionArn), strings.Join(taskDefContainers(td), ", "))
		}
		def := in.ContainerDefinitions[j]
		image, err := v1alpha1.RenderRevision(c.Image, revision)
		if err != nil {
			return nil, invalid(field+".image", "%v", err)
		}
		def.Image = &image
		env := append([]types.KeyValuePair(nil), def.Environment...)
		for _, ev := range c.Env {
			v, err := v1alpha1.RenderRevision(ev.Value, revision)
			if err != nil {
				return nil, invalid(field+".env", "%s: %v", ev.Name, err)
			}
			env = setECSEnv(env, ev.Name, v)
		}
		def.Environment = env
		in.ContainerDefinitions[j] = def
	}
	return in, nil
}

// register registers the revision's task definition and returns its ARN.
func (e *ECS) register(ctx context.Context, revision string) (string, error) {
	td, err := e.template(ctx)
	if err != nil {
		return "", err
	}
	in, err := e.render(td, revision)
	if err != nil {
		return "", err
	}
	out, err := e.client.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return "", awsapi.Err(fmt.Sprintf("ecs task definition family %s, revision %s", aws.ToString(td.Family), revision), err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

func setECSEnv(env []types.KeyValuePair, name, value string) []types.KeyValuePair {
	for i, kv := range env {
		if aws.ToString(kv.Name) == name {
			env[i].Value = &value
			return env
		}
	}
	return append(env, types.KeyValuePair{Name: &name, Value: &value})
}

func taskDefContainers(td *types.TaskDefinition) []string {
	var names []string
	for _, c := range td.ContainerDefinitions {
		names = append(names, aws.ToString(c.Name))
	}
	return names
}
