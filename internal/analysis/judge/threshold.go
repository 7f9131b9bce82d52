package judge

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// compileCondition compiles an expr-lang condition over the variable result
// (a float64), insisting that it yields a boolean — the style of Argo
// Rollouts' successCondition.
func compileCondition(cond string) (*vm.Program, error) {
	return expr.Compile(cond, expr.Env(map[string]any{"result": 0.0}), expr.AsBool())
}

// judgeThreshold checks the canary's single value against the condition:
// true passes, false fails. It returns a non-empty reason when there is no
// value to check.
func judgeThreshold(m Metric, in Input, r *MetricResult) string {
	if in.Value == nil {
		return "no data: the provider returned no value"
	}
	v := *in.Value
	if math.IsNaN(v) {
		return "no data: the provider returned NaN"
	}
	r.CanaryValue, r.CanaryCount = Number(v), 1
	prog, err := compileCondition(m.Condition)
	if err != nil {
		r.Reason = "configuration error: condition: " + err.Error()
		return ""
	}
	out, err := expr.Run(prog, map[string]any{"result": v})
	if err != nil {
		r.Reason = "condition error: " + err.Error()
		return ""
	}
	if ok, _ := out.(bool); ok {
		r.Verdict, r.Reason = Pass, fmt.Sprintf("result = %g satisfies %s", v, m.Condition)
	} else {
		r.Verdict, r.Reason = Fail, fmt.Sprintf("result = %g does not satisfy %s", v, m.Condition)
	}
	return ""
}
