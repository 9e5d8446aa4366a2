//go:build !linux

package render

// hugePages does nothing where huge pages are not asked for (see
// hugepages_linux.go).
func hugePages[T any](s []T) bool { return false }
