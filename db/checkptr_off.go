//go:build !(race || msan || asan)

package db

// checkptrBuild: this build does not check unsafe pointer conversions, so
// values are bound in place (see raw.go).
const checkptrBuild = false
