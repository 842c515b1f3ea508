package tui

import (
	"testing"

	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// TestFaultOnlyFollowsTheTable: the fault menu marks a fault with the
// kinds whose Spec lists it, and with nothing when every kind has it.
func TestFaultOnlyFollowsTheTable(t *testing.T) {
	for _, f := range stage.AllFaults {
		all := true
		for _, sp := range stage.Table {
			all = all && sp.Has(f)
		}
		if got := faultOnly(f); (got == "") != all {
			t.Errorf("faultOnly(%s) = %q; every kind has it: %v", f, got, all)
		}
	}
	if got := faultOnly(stage.FaultDBFull); got != "logger" {
		t.Errorf("faultOnly(dbfull) = %q; want logger", got)
	}
	for _, tt := range []struct {
		f    stage.Fault
		kind stage.Kind
		want bool
	}{
		{stage.FaultDBFull, stage.Logger, true},
		{stage.FaultDBFull, stage.Generator, false},
		{stage.FaultKill, stage.Extractor, true},
		{stage.FaultDBFull, "painter", true}, // a remote stage of a kind we do not know
	} {
		if got := faultApplies(tt.f, tt.kind); got != tt.want {
			t.Errorf("faultApplies(%s, %s) = %v; want %v", tt.f, tt.kind, got, tt.want)
		}
	}
}
