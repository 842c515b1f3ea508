package tui

import (
	"strconv"

	"github.com/charmbracelet/bubbles/key"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// KeyMap holds every key binding of the console's main screen. It satisfies
// help.KeyMap: ShortHelp feeds the help bar, FullHelp the `?` screen.
type KeyMap struct {
	Up       key.Binding // select the previous stage
	Down     key.Binding // select the next stage
	LogUp    key.Binding // scroll the log pane back
	LogDown  key.Binding // scroll the log pane forward
	LogTop   key.Binding // oldest log line
	LogEnd   key.Binding // follow the newest log line
	Start    key.Binding
	Stop     key.Binding
	Kill     key.Binding // kill -9
	Restart  key.Binding
	Pause    key.Binding // pause/resume toggle
	MoveUp   key.Binding // earlier in the start order
	MoveDown key.Binding // later in the start order
	RestartA key.Binding // restart all, in order
	ScaleUp  key.Binding
	ScaleDn  key.Binding
	Faults   key.Binding // open the fault menu
	Draw     key.Binding // draw the latest frame
	Help     key.Binding // toggle the full help
	Close    key.Binding // close the full help, the fault menu, the detail view, the full-screen log
	Quit     key.Binding
	Detail   key.Binding // the selected stage's detail view
	Focus    key.Binding // which pane the scroll keys move: logs or events
	Filter   key.Binding // filter the log pane
	Next     key.Binding // next match of the filter (newer)
	Prev     key.Binding // previous match (older)
	Wrap     key.Binding // wrap long log lines
	FullLog  key.Binding // the log pane on the whole screen
	ClearAll key.Binding // clear every fault on every stage

	// Fault lists the fault menu's keys, one per stage.AllFaults entry
	// (at most nine: 1..9), in menu order.
	Fault []key.Binding
	// Select is a help-only binding that stands for Up and Down in the
	// short help.
	Select key.Binding
}

// DefaultKeyMap returns the console's key bindings.
func DefaultKeyMap() KeyMap {
	km := KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous stage")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next stage")),
		LogUp:    key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "scroll log back")),
		LogDown:  key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "scroll log fwd")),
		LogTop:   key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "oldest log line")),
		LogEnd:   key.NewBinding(key.WithKeys("end"), key.WithHelp("end", "follow the log")),
		Start:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "start stage")),
		Stop:     key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop (TERM, KILL)")),
		Kill:     key.NewBinding(key.WithKeys("K", "9"), key.WithHelp("K/9", "kill -9")),
		Restart:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart stage")),
		Pause:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause / resume")),
		MoveUp:   key.NewBinding(key.WithKeys("[", "shift+up"), key.WithHelp("[", "earlier in order")),
		MoveDown: key.NewBinding(key.WithKeys("]", "shift+down"), key.WithHelp("]", "later in order")),
		RestartA: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "restart all")),
		ScaleUp:  key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "add an extractor")),
		ScaleDn:  key.NewBinding(key.WithKeys("-", "_"), key.WithHelp("-", "remove extractor")),
		Faults:   key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "fault menu")),
		Draw:     key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "draw last frame")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "all keys")),
		Close:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit (stops all)")),
		Select:   key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑↓", "select")),
		Detail:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "stage details")),
		Focus:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "scroll log/events")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter the log")),
		Next:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
		Prev:     key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "prev match")),
		Wrap:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wrap log lines")),
		FullLog:  key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "full-screen log")),
		ClearAll: key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "clear every fault")),
	}
	for i, f := range stage.AllFaults {
		if i >= 9 {
			break
		}
		k := strconv.Itoa(i + 1)
		km.Fault = append(km.Fault, key.NewBinding(key.WithKeys(k), key.WithHelp(k, string(f))))
	}
	return km
}

// ShortHelp is the help bar of the main screen, most useful first: the help
// view cuts it with "…" where the terminal is narrow.
func (k KeyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, keys, desc string) key.Binding {
		b.SetHelp(keys, desc)
		return b
	}
	return []key.Binding{
		short(k.Help, "?", "keys"),
		short(k.Quit, "q", "quit"),
		k.Select,
		short(k.Restart, "r", "restart"),
		short(k.Kill, "K", "kill -9"),
		short(k.Pause, "p", "pause"),
		short(k.Detail, "enter", "details"),
		short(k.Faults, "f", "faults"),
		short(k.Start, "s", "start"),
		short(k.Stop, "x", "stop"),
		combine("[/]", "move", k.MoveUp, k.MoveDown),
		short(k.RestartA, "R", "restart all"),
		combine("+/-", "extractors", k.ScaleUp, k.ScaleDn),
		combine("pgup/dn", "log", k.LogUp, k.LogDown),
		short(k.Filter, "/", "filter"),
		short(k.ClearAll, "F", "clear faults"),
		short(k.Draw, "d", "draw"),
	}
}

// combine makes a help-only binding that stands for several.
func combine(keys, desc string, bs ...key.Binding) key.Binding {
	var all []string
	for _, b := range bs {
		all = append(all, b.Keys()...)
	}
	return key.NewBinding(key.WithKeys(all...), key.WithHelp(keys, desc))
}

// FullHelp lists every key of the console, grouped: navigation, stage
// commands, pipeline commands, the fault menu and the rest.
func (k KeyMap) FullHelp() [][]key.Binding {
	faults := []key.Binding{k.Faults}
	for i, b := range k.Fault {
		b.SetHelp("f "+b.Help().Key, "fault "+string(stage.AllFaults[i]))
		faults = append(faults, b)
	}
	faults = append(faults, k.ClearAll)
	return [][]key.Binding{
		{k.Up, k.Down, k.Detail, k.LogUp, k.LogDown, k.LogTop, k.LogEnd, k.Focus},
		{k.Filter, k.Next, k.Prev, k.Wrap, k.FullLog},
		{k.Start, k.Stop, k.Kill, k.Restart, k.Pause},
		{k.MoveUp, k.MoveDown, k.RestartA, k.ScaleUp, k.ScaleDn},
		faults,
		{k.Draw, k.Help, k.Close, k.Quit},
	}
}

// FaultMenuKeys is the key map while the fault menu is open; the help bar
// follows it.
type FaultMenuKeys struct{ KeyMap }

// ShortHelp is the help bar while the fault menu is open.
func (k FaultMenuKeys) ShortHelp() []key.Binding {
	var keys []string
	for _, b := range k.Fault {
		keys = append(keys, b.Keys()...)
	}
	pick := key.NewBinding(key.WithKeys(keys...), key.WithHelp("1-"+strconv.Itoa(len(keys)), "inject / clear"))
	quit := k.Quit
	quit.SetHelp("q", "quit")
	return []key.Binding{pick, k.Select, k.Close, quit}
}

// FullHelp is the fault menu's key list.
func (k FaultMenuKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.Fault, {k.Up, k.Down, k.Close, k.Quit}}
}
