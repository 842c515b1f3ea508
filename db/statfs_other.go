//go:build !(linux || darwin || freebsd)

package db

// diskFree is unknown on this platform.
func diskFree(string) int64 { return -1 }
