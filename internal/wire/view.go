package wire

import (
	"errors"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
	"github.com/kanaria-dev/kanaria/internal/engine"
)

// NewRolloutView is a rollout as the API shows it: its name, strategy and
// steps from the spec, and its status. Analysis is left to the caller.
func NewRolloutView(r v1alpha1.Rollout, st v1alpha1.RolloutStatus, routerURL string) RolloutView {
	v := RolloutView{Name: r.Metadata.Name, Status: st, RouterURL: routerURL}
	switch {
	case r.Spec.Strategy.Canary != nil:
		v.Strategy = "canary"
		v.Steps = r.Spec.Strategy.Canary.Steps
	case r.Spec.Strategy.BlueGreen != nil:
		v.Strategy = "blueGreen"
	}
	return v
}

// CommandOutcome is the API's answer to a command that engine.Apply handled
// with err, v being the rollout afterwards: a command already in effect
// changed nothing and says so in v.Note (commands are idempotent); one that
// does not apply now is a *ConflictError naming the rollout; any other error
// is passed on.
func CommandOutcome(name string, v RolloutView, err error) (RolloutView, error) {
	switch {
	case engine.IsNoOp(err):
		v.Note = err.Error()
		return v, nil
	case errors.As(err, new(*engine.Refusal)):
		return v, &ConflictError{Reason: "rollout " + name + ": " + err.Error()}
	}
	return v, err
}
