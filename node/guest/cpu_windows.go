package guest

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetSystemTimes = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemTimes")

// winCPU reads GetSystemTimes (every CPU summed; kernel time includes
// idle time) and GetProcessTimes of this process, in 100 ns units.
type winCPU struct{}

func systemCPU() (CPUSource, error) {
	if err := procGetSystemTimes.Find(); err != nil {
		return nil, fmt.Errorf("guest: GetSystemTimes: %w", err)
	}
	src := winCPU{}
	if _, err := src.Read(); err != nil {
		return nil, err
	}
	return src, nil
}

func filetime(f windows.Filetime) time.Duration {
	return time.Duration(uint64(f.HighDateTime)<<32|uint64(f.LowDateTime)) * 100
}

func (winCPU) Read() (CPUSample, error) {
	var idle, kernel, user windows.Filetime
	ok, _, err := procGetSystemTimes.Call(
		uintptr(unsafe.Pointer(&idle)), uintptr(unsafe.Pointer(&kernel)), uintptr(unsafe.Pointer(&user)))
	if ok == 0 {
		return CPUSample{}, fmt.Errorf("guest: GetSystemTimes: %w", err)
	}
	var created, exited, pk, pu windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &pk, &pu); err != nil {
		return CPUSample{}, fmt.Errorf("guest: GetProcessTimes: %w", err)
	}
	total := filetime(kernel) + filetime(user)
	return CPUSample{Total: total, Busy: total - filetime(idle), Own: filetime(pk) + filetime(pu)}, nil
}
