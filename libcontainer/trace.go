package libcontainer

import (
	"encoding/json"
	"os"
	"sync"
	"time"
)

// Trace records how long each phase of a lifecycle operation takes, in the
// husk process and in the container's init, so that a user can see where
// start-up time goes (husk --trace FILE). A nil *Trace records nothing and
// costs nothing.
type Trace struct {
	mu     sync.Mutex
	start  time.Time
	Events []TraceEvent `json:"events"`
}

// TraceEvent is one timed phase. Start is relative to the start of the
// trace; both are in microseconds.
type TraceEvent struct {
	Name    string  `json:"name"`
	Process string  `json:"process"` // "husk" (the runtime) or "init" (inside the container)
	StartUs float64 `json:"start_us"`
	DurUs   float64 `json:"dur_us"`
}

// NewTrace starts a trace whose time zero is now.
func NewTrace() *Trace { return &Trace{start: time.Now()} }

// NewTraceAt starts a trace whose time zero is start, which must not be
// later than now: the start of the process, for one.
func NewTraceAt(start time.Time) *Trace { return &Trace{start: start} }

// Begin starts a phase of the runtime process; call the result to end it.
func (t *Trace) Begin(name string) func() {
	if t == nil {
		return func() {}
	}
	s := time.Now()
	return func() { t.add(name, "husk", s, time.Now()) }
}

// span records a phase of the runtime process timed by other means: one
// that ran on a C thread, before the trace (and the Go runtime) started.
func (t *Trace) span(name string, s, e time.Time) {
	if t != nil {
		t.add(name, "husk", s, e)
	}
}

func (t *Trace) add(name, proc string, s, e time.Time) {
	t.mu.Lock()
	t.Events = append(t.Events, TraceEvent{
		Name:    name,
		Process: proc,
		StartUs: float64(s.Sub(t.start).Nanoseconds()) / 1e3,
		DurUs:   float64(e.Sub(s).Nanoseconds()) / 1e3,
	})
	t.mu.Unlock()
}

// WriteFile writes the trace as indented JSON.
func (t *Trace) WriteFile(path string) error {
	t.mu.Lock()
	b, err := json.MarshalIndent(t, "", "  ")
	t.mu.Unlock()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// initPhase is a phase timed inside the container's init, in absolute
// Unix nanoseconds (both processes read the same clock), sent to the parent
// with the ready message.
type initPhase struct {
	Name  string `json:"n"`
	Start int64  `json:"s"`
	End   int64  `json:"e"`
}

// initTracer collects init's phases when the parent asked for a trace.
type initTracer struct {
	on     bool
	phases []initPhase
}

func (it *initTracer) begin(name string) func() {
	if !it.on {
		return func() {}
	}
	s := time.Now().UnixNano()
	return func() { it.phases = append(it.phases, initPhase{name, s, time.Now().UnixNano()}) }
}

func (it *initTracer) encode() string {
	if !it.on || len(it.phases) == 0 {
		return ""
	}
	b, _ := json.Marshal(it.phases)
	return string(b)
}

// merge adds the phases init reported to the trace.
func (t *Trace) merge(msg string) {
	if t == nil || msg == "" {
		return
	}
	var ps []initPhase
	if json.Unmarshal([]byte(msg), &ps) != nil {
		return
	}
	for _, p := range ps {
		t.add(p.Name, "init", time.Unix(0, p.Start), time.Unix(0, p.End))
	}
}
