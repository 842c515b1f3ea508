//go:build race || msan || asan

package db

// checkptrBuild: this build checks unsafe pointer conversions (checkptr),
// so no Go address may be handed to the transpiled SQLite (see raw.go).
const checkptrBuild = true
