//go:build !race

package dbcmd

// raceEnabled reports a -race build, which is 5-10× slower: large tests
// shrink.
const raceEnabled = false
