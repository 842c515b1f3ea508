package supervisor

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ChaosStep is one timed step of a chaos script.
type ChaosStep struct {
	At    time.Duration // since the start of the run
	Verb  string        // see ParseChaos
	Stage string        // instance ("extractor-1") or kind ("extractor"); "" for restart-all and scale
	Fault Fault         // for fault verbs and clear
	Delta int           // for scale
	Text  string        // the step as written
}

func (c ChaosStep) String() string { return c.Text }

// ChaosError is a parse error in a chaos script. Col is the 1-based byte
// column in the script where the bad step (or word) starts.
type ChaosError struct {
	Step int    // 1-based step number
	Col  int    // 1-based column
	Text string // the step as written
	Msg  string
}

func (e *ChaosError) Error() string {
	return fmt.Sprintf("chaos script: step %d at column %d (%q): %s", e.Step, e.Col, e.Text, e.Msg)
}

// Chaos verbs. Fault verbs toggle that fault on the stage.
var (
	stageVerbs = []string{"start", "stop", "kill", "restart", "pause", "resume", "up", "down"}
	faultVerbs = []Fault{FaultCorrupt, FaultTruncate, FaultSlow, FaultCrashLoop, FaultDBFull, FaultSilent}
	stageName  = regexp.MustCompile(`^(generator|extractor|logger)(-[0-9]+)?$`)
)

// ChaosHelp describes the chaos script syntax, for --help texts.
const ChaosHelp = `steps "TIME VERB [ARGS]" separated by ";" or newlines, TIME a Go duration since the start
(e.g. 5s, 1m30s). Verbs: start|stop|kill|restart|pause|resume|up|down STAGE; restart-all;
scale +N|-N; corrupt|truncate|slow|crashloop|dbfull|silent STAGE (toggle the fault);
clear FAULT STAGE. STAGE is an instance (extractor-1) or a kind (extractor = every instance of it).`

// ParseChaos parses a chaos script such as
//
//	"5s kill extractor; 8s pause logger; 12s resume logger; 20s restart-all"
//
// into steps sorted by time (steps at the same time keep their order). The
// syntax is ChaosHelp's. A stage named by its kind means every instance of
// that kind, in start order (for down, in reverse start order, so they move as
// a block). Errors are *ChaosError values giving the step and its column.
func ParseChaos(script string) ([]ChaosStep, error) {
	var steps []ChaosStep
	n := 0
	for segOff := 0; segOff <= len(script); {
		seg := script[segOff:]
		next := len(script) + 1
		if end := strings.IndexAny(seg, ";\n"); end >= 0 {
			seg, next = seg[:end], segOff+end+1
		}
		lead := len(seg) - len(strings.TrimLeft(seg, " \t\r"))
		if text := strings.TrimSpace(seg); text != "" && !strings.HasPrefix(text, "#") {
			n++
			st, err := parseStep(text)
			if err != nil {
				err.Step, err.Col, err.Text = n, segOff+lead+err.Col, text
				return nil, err
			}
			steps = append(steps, st)
		}
		segOff = next
	}
	slices.SortStableFunc(steps, func(a, b ChaosStep) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	return steps, nil
}

// parseStep parses one trimmed step; an error's Col is relative to text (1-based).
func parseStep(text string) (ChaosStep, *ChaosError) {
	type word struct {
		s   string
		col int
	}
	var words []word
	for i := 0; i < len(text); {
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
		j := i
		for j < len(text) && text[j] != ' ' && text[j] != '\t' {
			j++
		}
		if j > i {
			words = append(words, word{text[i:j], i + 1})
		}
		i = j
	}
	bad := func(w word, format string, args ...any) (ChaosStep, *ChaosError) {
		return ChaosStep{}, &ChaosError{Col: w.col, Msg: fmt.Sprintf(format, args...)}
	}
	st := ChaosStep{Text: text}
	at, err := time.ParseDuration(words[0].s)
	if err != nil || at < 0 {
		return bad(words[0], "bad time %q: want a duration such as 5s or 1m30s", words[0].s)
	}
	st.At = at
	if len(words) < 2 {
		return bad(word{col: len(text) + 1}, "missing verb after the time")
	}
	verb := words[1]
	args := words[2:]
	st.Verb = verb.s
	wantArgs := func(n int, what string) *ChaosError {
		if len(args) == n {
			return nil
		}
		if len(args) > n {
			_, e := bad(args[n], "unexpected %q: %s takes %s", args[n].s, verb.s, what)
			return e
		}
		_, e := bad(word{col: len(text) + 1}, "%s needs %s", verb.s, what)
		return e
	}
	checkStage := func(w word) *ChaosError {
		if !stageName.MatchString(w.s) {
			_, e := bad(w, "bad stage %q: want generator, extractor, logger or an instance such as extractor-1", w.s)
			return e
		}
		st.Stage = w.s
		return nil
	}
	switch {
	case slices.Contains(stageVerbs, verb.s):
		if e := wantArgs(1, "a STAGE"); e != nil {
			return ChaosStep{}, e
		}
		if e := checkStage(args[0]); e != nil {
			return ChaosStep{}, e
		}
	case verb.s == "restart-all":
		if e := wantArgs(0, "no arguments"); e != nil {
			return ChaosStep{}, e
		}
	case verb.s == "scale":
		if e := wantArgs(1, "+N or -N"); e != nil {
			return ChaosStep{}, e
		}
		a := args[0].s
		d, err := strconv.Atoi(a)
		if err != nil || (a[0] != '+' && a[0] != '-') || d == 0 {
			return bad(args[0], "bad scale %q: want +N or -N (a change in extractor replicas)", a)
		}
		st.Delta = d
	case slices.Contains(faultVerbs, Fault(verb.s)):
		if e := wantArgs(1, "a STAGE"); e != nil {
			return ChaosStep{}, e
		}
		if e := checkStage(args[0]); e != nil {
			return ChaosStep{}, e
		}
		st.Verb, st.Fault = "fault", Fault(verb.s)
		if st.Fault == FaultDBFull && !strings.HasPrefix(st.Stage, KindLogger) {
			return bad(args[0], "dbfull applies to the logger only")
		}
	case verb.s == "clear":
		if e := wantArgs(2, "FAULT STAGE"); e != nil {
			return ChaosStep{}, e
		}
		f := Fault(args[0].s)
		if !slices.Contains(faultVerbs, f) && f != FaultPause {
			return bad(args[0], "bad fault %q: want one of pause, corrupt, truncate, slow, crashloop, dbfull, silent", args[0].s)
		}
		st.Fault = f
		if e := checkStage(args[1]); e != nil {
			return ChaosStep{}, e
		}
	default:
		return bad(verb, "unknown verb %q", verb.s)
	}
	return st, nil
}

// targets resolves a step's stage to instance names in snap: an instance
// name, or every local instance of a kind in start order.
func targets(snap Snapshot, stage string) []string {
	var out []string
	for _, st := range snap.Stages {
		if st.Name == stage && st.State != StateRemote {
			return []string{st.Name}
		}
	}
	for _, st := range snap.Stages {
		if st.Kind == stage && st.State != StateRemote {
			out = append(out, st.Name)
		}
	}
	return out
}

// Apply performs one chaos step on sup.
func (c ChaosStep) Apply(sup *Supervisor) error {
	switch c.Verb {
	case "restart-all":
		return sup.RestartAll()
	case "scale":
		return sup.Scale(c.Delta)
	}
	names := targets(sup.Snapshot(), c.Stage)
	if len(names) == 0 {
		return &StageError{c.Stage, c.Verb, ErrUnknownStage}
	}
	if c.Verb == "down" {
		slices.Reverse(names)
	}
	var errs []error
	for _, name := range names {
		var err error
		switch c.Verb {
		case "start":
			err = sup.Start(name)
		case "stop":
			err = sup.Stop(name)
		case "kill":
			err = sup.Inject(name, FaultKill)
		case "restart":
			err = sup.Restart(name)
		case "pause":
			err = sup.Pause(name)
		case "resume":
			err = sup.Resume(name)
		case "up":
			err = sup.MoveUp(name)
		case "down":
			err = sup.MoveDown(name)
		case "fault":
			err = sup.Inject(name, c.Fault)
		case "clear":
			err = sup.Clear(name, c.Fault)
		default:
			err = fmt.Errorf("chaos: unknown verb %q", c.Verb)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", c.Text, joinErrs(errs))
}

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
