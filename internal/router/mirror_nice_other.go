//go:build !linux

package router

// idlePriority is a no-op where thread priorities are not set: the
// copies then compete with the primary for the CPU.
func idlePriority() {}
