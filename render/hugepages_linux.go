package render

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 or arm64 huge page.
const hugePage = 2 << 20

// hugePages asks Linux to back the whole huge pages inside s's array with
// huge pages, at once (MADV_COLLAPSE, Linux 6.1; whatever the system's
// transparent huge page setting short of never) and from then on
// (MADV_HUGEPAGE). An error (an older kernel, no memory to spare) leaves
// the pages as they were: the answers are the same either way. It reports
// whether the collapse succeeded.
func hugePages[T any](s []T) bool {
	var zero T
	size := uintptr(cap(s)) * unsafe.Sizeof(zero)
	if size < 2*hugePage {
		return false
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(p)
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + size) &^ (hugePage - 1)
	if hi <= lo {
		return false
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo)
	const madvHugepage, madvCollapse = 14, 25
	_ = syscall.Madvise(b, madvHugepage)
	return syscall.Madvise(b, madvCollapse) == nil
}
