package stats

import "math"

// mixture is a discrete mixing distribution over log relative-risk shifts
// x > 0 away from the null. A discrete mixture (weights summing to 1) of
// likelihood-ratio martingales is itself a martingale, so discretising the
// normal mixing density loses no validity, only a little smoothness.
type mixture struct {
	x    []float64 // shifts of logit(q) away from the null, all > 0
	logW []float64 // log weights, summing (in linear scale) to 1
}

// mixtureGrid is the number of grid points; beyond ~30 the e-values change
// by far less than the width of a tick.
const mixtureGrid = 24

// newMixture discretises N(log(1+detect), spread²) truncated to x > 0 on a
// midpoint grid over (0, centre+4·spread].
func newMixture(detect, spread float64) mixture {
	mu := math.Log1p(detect)
	top := mu + 4*spread
	h := top / mixtureGrid
	m := mixture{x: make([]float64, mixtureGrid), logW: make([]float64, mixtureGrid)}
	var sum float64
	for i := range m.x {
		x := (float64(i) + 0.5) * h
		z := (x - mu) / spread
		m.x[i] = x
		m.logW[i] = -z * z / 2
		sum += math.Exp(m.logW[i])
	}
	ls := math.Log(sum)
	for i := range m.logW {
		m.logW[i] -= ls
	}
	return m
}

// logSigmoid is log(1/(1+e^-z)) without overflow.
func logSigmoid(z float64) float64 {
	if z > 0 {
		return -math.Log1p(math.Exp(-z))
	}
	return z - math.Log1p(math.Exp(z))
}

// logE is the log of the mixture likelihood ratio for k canary-labelled and
// b baseline-labelled errors, against the null logit(q) = a0 (a0 =
// log(ρ0·r)). dir = +1 mixes over alternatives above the null (the canary is
// worse), dir = −1 over alternatives below it.
func (m mixture) logE(k, b, a0 float64, dir float64) float64 {
	if k == 0 && b == 0 {
		return 0
	}
	// log σ(−a) = log σ(a) − a, so one logSigmoid per component suffices.
	l0 := logSigmoid(a0)
	best := math.Inf(-1)
	var terms [mixtureGrid]float64
	for i, x := range m.x {
		a := a0 + dir*x
		l := logSigmoid(a) - l0
		t := m.logW[i] + k*l + b*(l-dir*x)
		terms[i] = t
		if t > best {
			best = t
		}
	}
	var s float64
	for _, t := range terms[:len(m.x)] {
		s += math.Exp(t - best)
	}
	return best + math.Log(s)
}

// csRange bounds the search for confidence-sequence limits on log ρ.
const csRange = 30.0

// confidenceSequence returns [Lower, Upper] for the relative risk: Lower is
// the largest null ρ still rejected by the "worse" test and Upper the
// smallest ρ rejected by the "better" test. Both logE's are monotone in the
// null (d/da0 of each component is (k+b)(σ(a0)−σ(a0±x)), of fixed sign), so
// a bracketing root finder finds each crossing.
func (m mixture) confidenceSequence(k, b, logRatio, logInvAlpha float64) (lower, upper float64) {
	worse := func(l float64) float64 { return m.logE(k, b, l+logRatio, +1) - logInvAlpha }
	better := func(l float64) float64 { return m.logE(k, b, l+logRatio, -1) - logInvAlpha }
	// Start from the maximum-likelihood log relative risk, where neither
	// test rejects; clamp when one side has no errors.
	centre := 0.0
	if k > 0 || b > 0 {
		centre = math.Log((k+0.5)/(b+0.5)) - logRatio
	}
	// First step: about three standard errors of the log relative risk,
	// where the limits usually are.
	step := 3 * math.Sqrt(1/(k+0.5)+1/(b+0.5))
	lower, upper = 0, math.Inf(1)
	if l, ok := crossing(worse, centre, -1, step); ok {
		lower = math.Exp(l)
	}
	if u, ok := crossing(better, centre, +1, step); ok {
		upper = math.Exp(u)
	}
	return lower, upper
}

// crossing finds the root of a monotone f that is negative at start, moving
// in direction dir (f ≥ 0 beyond the root). It expands the step until the
// sign changes (giving up beyond ±csRange: no crossing) and then runs the
// Illinois variant of regula falsi to 1e-3 in log ρ (0.1 % of ρ).
func crossing(f func(float64) float64, start, dir, step float64) (float64, bool) {
	a, fa := start, f(start)
	for fa >= 0 {
		// The centre is not inside the interval (tiny counts): back off.
		a -= dir
		if math.Abs(a) > csRange {
			return 0, false
		}
		fa = f(a)
	}
	b := a + dir*step
	fb := f(b)
	for fb < 0 {
		a, fa = b, fb
		step *= 2
		b = a + dir*step
		if math.Abs(b) > csRange {
			return 0, false
		}
		fb = f(b)
	}
	side := 0
	for i := 0; i < 60 && math.Abs(b-a) > 1e-3; i++ {
		c := (a*fb - b*fa) / (fb - fa)
		fc := f(c)
		if math.Abs(fc) < 1e-3 {
			// Within 0.1 % of the threshold e-value: close enough.
			return c, true
		}
		switch {
		case fc < 0:
			a, fa = c, fc
			if side == -1 {
				fb /= 2
			}
			side = -1
		case fc > 0:
			b, fb = c, fc
			if side == +1 {
				fa /= 2
			}
			side = +1
		default:
			return c, true
		}
	}
	return b, true
}
