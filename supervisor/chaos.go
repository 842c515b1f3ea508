package supervisor

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// ChaosStep is one timed step of a chaos script.
type ChaosStep struct {
	At    time.Duration // since the start of the run
	Verb  string        // see ParseChaos
	Stage string        // instance ("extractor-1") or kind ("extractor"); "" for restart-all and scale
	Fault stage.Fault   // for fault verbs and clear
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
	faultVerbs = []stage.Fault{stage.FaultCorrupt, stage.FaultTruncate, stage.FaultSlow, stage.FaultCrashLoop,
		stage.FaultDBFull, stage.FaultSilent}
	stageName = stageNameRegexp()
)

// stageNameRegexp matches a kind of stage.Table, or an instance of one:
// "extractor", "extractor-1".
func stageNameRegexp() *regexp.Regexp {
	var alts []string
	for _, k := range stage.Kinds() {
		alts = append(alts, regexp.QuoteMeta(string(k)))
	}
	return regexp.MustCompile(`^(` + strings.Join(alts, "|") + `)(-[0-9]+)?$`)
}

// stageNameHelp describes what a STAGE may be, for error messages:
// "generator, extractor, logger or an instance such as extractor-1".
func stageNameHelp() string {
	var names []string
	example := ""
	for _, sp := range stage.Table {
		names = append(names, string(sp.Kind))
		if sp.Replicated && example == "" {
			example = replicaName(sp.Kind, 1)
		}
	}
	if example == "" {
		return strings.Join(names, ", ") + " or an instance name"
	}
	return strings.Join(names, ", ") + " or an instance such as " + example
}

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

// word is one word of a step and its 1-based column in the step.
type word struct {
	s   string
	col int
}

// splitWords splits text at spaces and tabs.
func splitWords(text string) []word {
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
	return words
}

// stepParser is one step being parsed: its verb, the words after it and
// the step read so far.
type stepParser struct {
	text string
	verb word
	args []word
	st   ChaosStep
}

// parseStep parses one trimmed step; an error's Col is relative to text (1-based).
func parseStep(text string) (ChaosStep, *ChaosError) {
	words := splitWords(text)
	p := &stepParser{text: text, st: ChaosStep{Text: text}}
	at, err := time.ParseDuration(words[0].s)
	if err != nil || at < 0 {
		return ChaosStep{}, p.bad(words[0], "bad time %q: want a duration such as 5s or 1m30s", words[0].s)
	}
	p.st.At = at
	if len(words) < 2 {
		return ChaosStep{}, p.bad(p.end(), "missing verb after the time")
	}
	p.verb, p.args = words[1], words[2:]
	p.st.Verb = p.verb.s
	if e := p.parseVerb(); e != nil {
		return ChaosStep{}, e
	}
	return p.st, nil
}

func (p *stepParser) bad(w word, format string, args ...any) *ChaosError {
	return &ChaosError{Col: w.col, Msg: fmt.Sprintf(format, args...)}
}

// end is the position just after the step, where a missing word belongs.
func (p *stepParser) end() word { return word{col: len(p.text) + 1} }

// parseVerb reads the verb's arguments into p.st.
func (p *stepParser) parseVerb() *ChaosError {
	v := p.verb.s
	switch {
	case slices.Contains(stageVerbs, v):
		return p.stageArg()
	case v == "restart-all":
		return p.wantArgs(0, "no arguments")
	case v == "scale":
		return p.scaleArg()
	case slices.Contains(faultVerbs, stage.Fault(v)):
		p.st.Verb, p.st.Fault = "fault", stage.Fault(v)
		if e := p.stageArg(); e != nil {
			return e
		}
		return p.faultApplies()
	case v == "clear":
		return p.clearArgs()
	}
	return p.bad(p.verb, "unknown verb %q", v)
}

// wantArgs checks that the verb has n arguments, described by what.
func (p *stepParser) wantArgs(n int, what string) *ChaosError {
	switch {
	case len(p.args) > n:
		return p.bad(p.args[n], "unexpected %q: %s takes %s", p.args[n].s, p.verb.s, what)
	case len(p.args) < n:
		return p.bad(p.end(), "%s needs %s", p.verb.s, what)
	}
	return nil
}

// stageArg reads the verb's one argument, a STAGE.
func (p *stepParser) stageArg() *ChaosError {
	if e := p.wantArgs(1, "a STAGE"); e != nil {
		return e
	}
	return p.setStage(p.args[0])
}

func (p *stepParser) setStage(w word) *ChaosError {
	if !stageName.MatchString(w.s) {
		return p.bad(w, "bad stage %q: want %s", w.s, stageNameHelp())
	}
	p.st.Stage = w.s
	return nil
}

// faultApplies checks that the step's fault applies to its stage's kind.
func (p *stepParser) faultApplies() *ChaosError {
	kind := stage.Kind(stageName.FindStringSubmatch(p.st.Stage)[1])
	if sp, _ := stage.Lookup(kind); sp.Has(p.st.Fault) {
		return nil
	}
	var kinds []string
	for _, sp := range stage.Table {
		if sp.Has(p.st.Fault) {
			kinds = append(kinds, string(sp.Kind))
		}
	}
	return p.bad(p.args[0], "%s applies to the %s only", p.st.Fault, strings.Join(kinds, " and "))
}

func (p *stepParser) scaleArg() *ChaosError {
	if e := p.wantArgs(1, "+N or -N"); e != nil {
		return e
	}
	a := p.args[0].s
	d, err := strconv.Atoi(a)
	if err != nil || (a[0] != '+' && a[0] != '-') || d == 0 {
		return p.bad(p.args[0], "bad scale %q: want +N or -N (a change in %s replicas)", a, replicatedNames())
	}
	p.st.Delta = d
	return nil
}

func (p *stepParser) clearArgs() *ChaosError {
	if e := p.wantArgs(2, "FAULT STAGE"); e != nil {
		return e
	}
	f := stage.Fault(p.args[0].s)
	if !slices.Contains(faultVerbs, f) && f != stage.FaultPause {
		return p.bad(p.args[0], "bad fault %q: want one of pause, corrupt, truncate, slow, crashloop, dbfull, silent", p.args[0].s)
	}
	p.st.Fault = f
	return p.setStage(p.args[1])
}

// targets resolves a step's stage to instance names in snap: an instance
// name, or every local instance of a kind in start order.
func targets(snap Snapshot, name string) []string {
	var out []string
	for _, st := range snap.Stages {
		if st.Name == name && st.State != StateRemote {
			return []string{st.Name}
		}
	}
	for _, st := range snap.Stages {
		if string(st.Kind) == name && st.State != StateRemote {
			out = append(out, st.Name)
		}
	}
	return out
}

// needsProcess reports whether the step acts on a stage's running process
// (a signal), so that it cannot be applied while the stage is between
// processes.
func (c ChaosStep) needsProcess() bool {
	switch c.Verb {
	case "kill", "pause", "resume":
		return true
	case "fault", "clear":
		return c.Fault == stage.FaultSlow || c.Fault == stage.FaultSilent || c.Fault == stage.FaultDBFull
	}
	return false
}

// Blocked says why the step cannot be applied to sup's stages as they are
// in snap, or "" when it can. A step that acts on a process waits while a
// target is between processes (in backoff, or started and not yet
// reporting); a resume of a stage that is not paused (a process that was
// paused and has since died) can never apply, and says so with final set.
func (c ChaosStep) Blocked(snap Snapshot) (why string, final bool) {
	if !c.needsProcess() {
		return "", false
	}
	for _, name := range targets(snap, c.Stage) {
		st, _ := stageByName(snap, name)
		switch {
		case c.Verb == "resume" && !st.Paused:
			return name + " is not paused", true
		case c.Verb == "resume":
		case st.PID == 0 || st.State == StateBackoff:
			return fmt.Sprintf("%s has no process to act on (%s)", name, st.State), false
		case st.State == StateFailed || st.State == StateStopped:
			return fmt.Sprintf("%s is %s", name, st.State), true
		}
	}
	return "", false
}

func stageByName(snap Snapshot, name string) (StageSnapshot, bool) {
	for _, st := range snap.Stages {
		if st.Name == name {
			return st, true
		}
	}
	return StageSnapshot{}, false
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
			err = sup.Inject(name, stage.FaultKill)
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
