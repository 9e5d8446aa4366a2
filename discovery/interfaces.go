package discovery

import (
	"net"
	"net/netip"
)

// AnnounceInterfaces says where to announce a service that listens on host:
// everywhere (nil) for an empty or unspecified host, on the interface that
// has the address for a specific one, nowhere (why says why) when no
// multicast interface has it (a loopback address, a host name).
func AnnounceInterfaces(host string) (ifaces []string, why string) {
	if host == "" {
		return nil, ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, "the listen host is a name, not an address"
	}
	if ip.IsUnspecified() {
		return nil, ""
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, err.Error()
	}
	for _, ifc := range all {
		addrs, err := ifc.Addrs()
		if err != nil || ifc.Flags&net.FlagMulticast == 0 {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == ip.Unmap() {
					return []string{ifc.Name}, ""
				}
			}
		}
	}
	return nil, "no multicast interface has the address " + host
}
