package scenarios

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/schedule"
)

// FieldError is one problem with one field of a scenario. Validate returns
// them with Field and Err; Parse adds File and Line, so that the message
// points into the file: "smoke.yaml:3: batch_size: must be at least 1, got 0".
type FieldError struct {
	File  string // as given to Parse; "" for a Spec built in Go
	Line  int    // 1-based; 0 when the file does not show the field
	Field string // YAML path such as "rate.stages[1].duration"; "" when Err names what is wrong itself
	Err   error
}

// Error implements error.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(shortPath(e.Field))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// withinLimits checks the run's length and its peak rate against the
// limits, naming the override.
func (s Spec) withinLimits(v *validator) bool {
	if total := s.Total(); total > MaxTotal {
		v.add("duration", "warm-up plus duration is %v, more than the %v limit (set no_limits: true, or --no-limits, if you mean it)", Duration(total), Duration(MaxTotal))
		return false
	}
	rows := s.Rate.peak()
	if s.Rate.Unit == UnitBatches {
		rows *= float64(s.BatchSize)
	}
	if rows > MaxRowsPerSecond {
		v.add("rate", "peaks at %.4g rows/s, more than the %d rows/s limit (set no_limits: true, or --no-limits, if you mean it)", rows, MaxRowsPerSecond)
		return false
	}
	return true
}

// peak is the shape's highest rate, in its unit.
func (r RateSpec) peak() float64 {
	switch r.Shape {
	case ShapeBurst:
		return max(r.Base, r.Peak)
	case ShapeRamp:
		return max(r.From, r.To)
	case ShapeStep:
		var p float64
		for _, st := range r.Stages {
			p = max(p, st.Rate)
		}
		return p
	case ShapeSine:
		return r.Mean + r.Amplitude
	}
	return r.Rate
}

// maxPathLen bounds a field path in a message: a value nested thousands of
// levels deep (paths: [[[[...]]]]) would otherwise make a path of kilobytes
// that says nothing its first and last steps do not.
const maxPathLen = 80

// shortPath abbreviates a path longer than maxPathLen to its start and end
// and the number of steps left out.
func shortPath(p string) string {
	if len(p) <= maxPathLen {
		return p
	}
	head, tail := p[:maxPathLen/2], p[len(p)-maxPathLen/4:]
	if i := strings.LastIndexAny(head, ".["); i > 0 {
		head = head[:i]
	}
	if i := strings.IndexAny(tail, ".["); i >= 0 {
		tail = tail[i:]
	}
	omitted := strings.Count(p[len(head):len(p)-len(tail)], "[") + strings.Count(p[len(head):len(p)-len(tail)], ".")
	return fmt.Sprintf("%s…(%d levels)…%s", head, omitted, tail)
}

// Unwrap returns the underlying error, such as driver.ErrPath or ErrUnknownField.
func (e *FieldError) Unwrap() error { return e.Err }

// Limits Validate enforces.
const (
	MaxConnections = 64            // producer connections; more only measures connection overhead on a 2-core box
	MaxFraudRate   = 0.5           // beyond it the "normal" traffic the agents learn from is mostly fraud
	maxUsers       = 1_000_000_000 // user ids start at 1000 and are int32
	maxScore       = 100           // the velocity score's maximum: 40 + 50 + 10
	maxStages      = 1000          // a step schedule is scanned on every call; keep it short
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// validator collects FieldErrors.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Err: fmt.Errorf(format, args...)})
}

func (v *validator) positive(field string, d Duration) {
	if d <= 0 {
		v.add(field, "must be positive, got %v", d)
	}
}

func (v *validator) notNegative(field string, d Duration) {
	if d < 0 {
		v.add(field, "must not be negative, got %v", d)
	}
}

// rate checks a rate: finite and not negative. It reports whether it was.
func (v *validator) rate(field string, r float64) bool {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		v.add(field, "must be a finite number >= 0, got %v", r)
		return false
	}
	return true
}

func (v *validator) oneOf(field, got string, allowed ...string) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	if got == "" {
		v.add(field, "required: one of %s", quoteAll(allowed))
	} else {
		v.add(field, "must be one of %s, got %q", quoteAll(allowed), got)
	}
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Validate reports every invalid field of s, each as a *FieldError (and
// nothing else) naming the field and the reason. Defaults are not applied first: call
// ApplyDefaults (Parse does) if zero fields should get them.
func (s Spec) Validate() []error {
	var v validator
	switch {
	case s.Name == "":
		v.add("name", "required")
	case !nameRE.MatchString(s.Name):
		v.add("name", "may hold only letters, digits, '.', '_' and '-' (it names result directories), got %q", s.Name)
	}
	switch {
	case strings.TrimSpace(s.Description) == "":
		v.add("description", "required: one line saying which question the scenario answers")
	case strings.ContainsAny(strings.TrimSpace(s.Description), "\r\n"):
		v.add("description", "must be one line")
	}
	v.positive("duration", s.Duration)
	v.notNegative("warmup", s.Warmup)
	if s.Duration > 0 && s.Warmup > s.Duration {
		v.add("warmup", "must not be longer than duration (%v), got %v", s.Duration, s.Warmup)
	}
	v.positive("drain_timeout", s.DrainTimeout)
	if s.BatchSize < 1 {
		v.add("batch_size", "must be at least 1, got %d", s.BatchSize)
	}
	s.validateRate(&v)
	if s.Connections < 1 || s.Connections > MaxConnections {
		v.add("connections", "must be within 1..%d, got %d", MaxConnections, s.Connections)
	}
	v.oneOf("insert", s.Insert, InsertCopy, InsertValues)
	if s.Users < 1 || s.Users > maxUsers {
		v.add("users", "must be within 1..%d, got %d", maxUsers, s.Users)
	}
	if !(s.FraudRate >= 0 && s.FraudRate <= MaxFraudRate) {
		v.add("fraud_rate", "must be within [0, %v], got %v", MaxFraudRate, s.FraudRate)
	}
	s.validatePaths(&v)
	v.oneOf("poll.mode", s.Poll.Mode, PollSafe, PollNaive)
	if s.Poll.Limit < 1 {
		v.add("poll.limit", "must be at least 1, got %d", s.Poll.Limit)
	}
	if s.Partitions < 1 {
		v.add("partitions", "must be at least 1, got %d", s.Partitions)
	}
	v.oneOf("key", s.Key, KeyID, KeyUserID)
	if s.AgentInstances < 1 || s.AgentInstances > 64 {
		v.add("agent_instances", "must be within 1..64, got %d", s.AgentInstances)
	}
	v.notNegative("agent_delay", s.AgentDelay)
	s.validateAgents(&v)
	v.positive("objective.p99", s.Objective.P99)
	v.positive("schedule_tolerance", s.ScheduleTolerance)
	s.validateStack(&v)
	s.validateFaults(&v)
	s.validateAgentCommands(&v)
	s.validateSettings(&v)
	s.validateSweep(&v) // last: it checks the cells only when all else is valid
	return v.errs
}

func (s Spec) validateFaults(v *validator) {
	for i, f := range s.Faults {
		field := fmt.Sprintf("faults[%d]", i)
		v.oneOf(field+".kind", f.Kind, FaultLockTable, FaultPauseRelay, FaultKillRelay, FaultKillAgent, FaultDropConnections, FaultRestartKafka, FaultKillConnect, FaultKillCapture,
			FaultKillBroker, FaultPauseBroker, FaultKillConnectWorker)
		v.notNegative(field+".at", f.At)
		v.positive(field+".duration", f.Duration)
		if end := f.At + f.Duration; s.Duration > 0 && time.Duration(end) > s.Total() {
			v.add(field, "ends at %v, after the schedule (%v)", end, Duration(s.Total()))
		}
		if f.Agent != "" && f.Agent != "outlier" && f.Agent != "velocity" {
			v.add(field+".agent", "must be outlier or velocity, got %q", f.Agent)
		}
		if f.Agent != "" && f.Kind != FaultKillAgent {
			v.add(field+".agent", "only kill-agent names an agent")
		}
		switch f.Kind {
		case FaultKillBroker, FaultPauseBroker:
			if s.Stack.Brokers < 3 {
				v.add(field+".kind", "%s needs stack.brokers of at least 3 (a quorum that survives a node lost), got %d", f.Kind, max(s.Stack.Brokers, 1))
			}
		case FaultKillConnectWorker:
			if s.Stack.ConnectWorkers < 2 {
				v.add(field+".kind", "%s needs stack.connect_workers of at least 2 (a worker to take the task over), got %d", f.Kind, max(s.Stack.ConnectWorkers, 1))
			}
		}
	}
}

// validateStack bounds the local stack's shape.
func (s Spec) validateStack(v *validator) {
	if s.Stack.Brokers < 0 || s.Stack.Brokers > jvmstack.MaxBrokers {
		v.add("stack.brokers", "must be within 1..%d, got %d", jvmstack.MaxBrokers, s.Stack.Brokers)
	}
	if s.Stack.ConnectWorkers < 0 || s.Stack.ConnectWorkers > jvmstack.MaxConnectWorkers {
		v.add("stack.connect_workers", "must be within 1..%d, got %d", jvmstack.MaxConnectWorkers, s.Stack.ConnectWorkers)
	}
	if d := s.Stack.RebalanceDelay; d != nil {
		v.notNegative("stack.rebalance_delay", *d)
		if s.Stack.ConnectWorkers < 2 {
			v.add("stack.rebalance_delay", "only a group of several workers rebalances; set stack.connect_workers to 2 or more, or drop it")
		}
	}
}

func (s Spec) validatePaths(v *validator) {
	if len(s.Paths) == 0 {
		v.add("paths", "at least one path is required, such as %q", driver.DefaultPaths()[0])
	}
	seen := make(map[string]int, len(s.Paths))
	for i, name := range s.Paths {
		field := fmt.Sprintf("paths[%d]", i)
		p, err := driver.ParsePath(name)
		if err != nil {
			v.errs = append(v.errs, &FieldError{Field: field, Err: err})
			continue
		}
		if j, dup := seen[p.String()]; dup {
			v.add(field, "%q repeats paths[%d] (%q)", name, j, s.Paths[j])
			continue
		}
		seen[p.String()] = i
	}
}

func (s Spec) validateAgents(v *validator) {
	o := s.Outlier
	v.oneOf("outlier.rule", o.Rule, RuleMean3x, RuleSigma3)
	if o.History < 1 {
		v.add("outlier.history", "must be at least 1, got %d", o.History)
	}
	if o.MinHistory < 1 || o.MinHistory > max(o.History, 1) {
		v.add("outlier.min_history", "must be within 1..history (%d), got %d", o.History, o.MinHistory)
	}
	if !(o.Factor > 0) || math.IsInf(o.Factor, 0) {
		v.add("outlier.factor", "must be a finite number > 0, got %v", o.Factor)
	}
	v.rate("outlier.min_amount", o.MinAmount)
	w := s.Velocity
	v.positive("velocity.window", w.Window)
	if w.MaxCount < 0 {
		v.add("velocity.max_count", "must not be negative, got %d", w.MaxCount)
	}
	v.rate("velocity.high_amount", w.HighAmount)
	if w.Threshold < 0 || w.Threshold >= maxScore {
		v.add("velocity.threshold", "must be within 0..%d (an alert needs a score above it; the highest is %d), got %d", maxScore-1, maxScore, w.Threshold)
	}
}

// shapeFields lists, per shape, the RateSpec fields it reads.
var shapeFields = map[string][]string{
	ShapeConstant: {"rate"},
	ShapeBurst:    {"base", "peak", "period", "length"},
	ShapeRamp:     {"from", "to"},
	ShapeStep:     {"stages"},
	ShapeSine:     {"mean", "amplitude", "period"},
}

func (s Spec) validateRate(v *validator) {
	r := s.Rate
	before := len(v.errs)
	unitOK := v.oneOf("rate.unit", r.Unit, UnitRows, UnitBatches)
	v.oneOf("rate.arrivals", r.Arrivals, ArrivalsEven, ArrivalsPoisson)
	if !v.oneOf("rate.shape", r.Shape, ShapeConstant, ShapeBurst, ShapeRamp, ShapeStep, ShapeSine) {
		return
	}
	set := []struct {
		name string
		set  bool
	}{
		{"rate", r.Rate != 0}, {"base", r.Base != 0}, {"peak", r.Peak != 0},
		{"period", r.Period != 0}, {"length", r.Length != 0}, {"from", r.From != 0},
		{"to", r.To != 0}, {"stages", r.Stages != nil}, {"mean", r.Mean != 0}, {"amplitude", r.Amplitude != 0},
	}
	for _, f := range set {
		if f.set && !slices.Contains(shapeFields[r.Shape], f.name) {
			v.add("rate."+f.name, "not used by shape %q (it reads %s)", r.Shape, strings.Join(shapeFields[r.Shape], ", "))
		}
	}
	switch r.Shape {
	case ShapeConstant:
		if v.rate("rate.rate", r.Rate) && r.Rate == 0 {
			v.add("rate.rate", "must be positive, got 0")
		}
	case ShapeBurst:
		v.rate("rate.base", r.Base)
		v.rate("rate.peak", r.Peak)
		v.positive("rate.period", r.Period)
		v.positive("rate.length", r.Length)
		if r.Period > 0 && r.Length >= r.Period {
			v.add("rate.length", "must be shorter than period (%v), got %v", r.Period, r.Length)
		}
	case ShapeRamp:
		v.rate("rate.from", r.From)
		v.rate("rate.to", r.To)
	case ShapeStep:
		s.validateStages(v)
	case ShapeSine:
		v.rate("rate.mean", r.Mean)
		if v.rate("rate.amplitude", r.Amplitude) && r.Amplitude > r.Mean {
			v.add("rate.amplitude", "must not exceed mean (%v), or the rate would go negative; got %v", r.Mean, r.Amplitude)
		}
		v.positive("rate.period", r.Period)
	}
	if len(v.errs) > before || !unitOK || s.BatchSize < 1 || s.Duration <= 0 || s.Warmup < 0 {
		return
	}
	if !s.NoLimits && !s.withinLimits(v) {
		return
	}
	// The shape is well formed: check that it offers a load worth measuring.
	sch := s.Schedule()
	total, warm := s.Total(), time.Duration(s.Warmup)
	// At least one batch per second on average over the measured window:
	// below that a window of a few seconds may hold no batch at all (Poisson
	// arrivals, or a first batch due after the window), and a run with
	// nothing measured says nothing. `--rate 100 --batch-size 500` is 0.2.
	n := sch.Cumulative(total) - sch.Cumulative(warm)
	if perS := n / time.Duration(s.Duration).Seconds(); perS < 1 {
		v.add("rate", "offers %.2f batches/s in the measured window (%.4g rows/s in batches of %d); at least 1 batch/s is needed: raise the rate or lower batch_size",
			perS, perS*float64(s.BatchSize), s.BatchSize)
		return
	}
	// Poisson arrivals can still leave a short window empty (1 batch/s for
	// 1 s: e^-1 of seeds do); the seeded schedule is the producer's, so
	// look. Only the arrivals up to the window's first are drawn, and only
	// where an empty window is possible at all: with 50 batches expected
	// in it, e^-50 of seeds leave it empty. Drawing is bounded too (a ramp
	// may put millions of batches in the warm-up and few in the window):
	// at --rate 1e308 --no-limits the arrivals are nanoseconds apart and
	// drawing them up to the window never ended.
	if n >= emptyWindowBatches {
		return
	}
	arr := schedule.NewArrivals(sch, s.Rate.Arrivals == ArrivalsPoisson, s.Seed)
	for range maxDrawnArrivals {
		at, ok := arr.Next()
		if !ok || at >= total {
			v.add("rate", "the schedule of seed %d puts no batch in the measured window (%v from %v); lengthen duration, raise the rate or change the seed", s.Seed, s.Duration, s.Warmup)
			break
		}
		if at >= warm {
			break
		}
	}
}

// emptyWindowBatches and maxDrawnArrivals bound validateRate's look at
// the seeded schedule.
const (
	emptyWindowBatches = 50
	maxDrawnArrivals   = 1_000_000
)

func (s Spec) validateStages(v *validator) {
	st := s.Rate.Stages
	if len(st) == 0 {
		v.add("rate.stages", "a step shape needs at least one stage")
		return
	}
	if len(st) > maxStages {
		v.add("rate.stages", "at most %d stages, got %d", maxStages, len(st))
	}
	var sum Duration
	for i, g := range st {
		v.rate(fmt.Sprintf("rate.stages[%d].rate", i), g.Rate)
		v.positive(fmt.Sprintf("rate.stages[%d].duration", i), g.Duration)
		sum += g.Duration
	}
	if want := s.Warmup + s.Duration; sum != want {
		v.add("rate.stages", "stages last %v in all; they must cover warmup + duration (%v)", sum, want)
	}
}
