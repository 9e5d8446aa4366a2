package discovery

// These tests never multicast: Announce and Browse run only inside network
// namespaces made by the tests in netns_test.go. Here the pure parts are
// tested: interface choice, TXT parsing, entry conversion.

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/mdns"

	"tessera/protocol"
)

func TestPickInterfaces(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	up := net.FlagUp | net.FlagMulticast | net.FlagBroadcast
	ifs := []ifaceInfo{
		{iface: net.Interface{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback}, addrs: []net.Addr{cidr("127.0.0.1/8")}},
		{iface: net.Interface{Index: 2, Name: "eth0", Flags: up}, addrs: []net.Addr{cidr("fe80::1/64"), cidr("10.0.0.5/24"), cidr("10.0.0.6/24")}},
		{iface: net.Interface{Index: 3, Name: "eth1", Flags: up}, addrs: []net.Addr{cidr("192.168.1.5/24")}},
		{iface: net.Interface{Index: 4, Name: "down0", Flags: net.FlagMulticast}, addrs: []net.Addr{cidr("10.1.0.5/24")}},
		{iface: net.Interface{Index: 5, Name: "tun0", Flags: net.FlagUp | net.FlagPointToPoint}, addrs: []net.Addr{cidr("10.8.0.2/24")}},
		{iface: net.Interface{Index: 6, Name: "v6only", Flags: up}, addrs: []net.Addr{cidr("2001:db8::5/64")}},
	}
	tests := []struct {
		name string
		only []string
		want []string
	}{
		{name: "all", want: []string{"eth0=10.0.0.5", "eth1=192.168.1.5"}},
		{name: "restricted", only: []string{"eth1", "down0"}, want: []string{"eth1=192.168.1.5"}},
		{name: "none usable", only: []string{"lo", "tun0", "v6only"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range pickInterfaces(ifs, tt.only) {
				got = append(got, p.iface.Name+"="+p.ip.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTXT(t *testing.T) {
	got := parseTXT([]string{"id=n1", "cores=8", "ID=n2", "flag", "=x", "name=a=b", ""})
	want := map[string]string{"id": "n1", "cores": "8", "flag": "", "name": "a=b"}
	if !maps.Equal(got, want) {
		t.Errorf("parseTXT = %v, want %v", got, want)
	}
}

func TestEntryFrom(t *testing.T) {
	tests := []struct {
		name string
		se   mdns.ServiceEntry
		want Entry
		ok   bool
	}{
		{
			name: "complete",
			se:   mdns.ServiceEntry{Name: "n1._tessera._tcp.local.", AddrV4: net.IPv4(10, 0, 0, 5), Port: 7701, InfoFields: []string{"id=n1", "cores=4"}},
			want: Entry{Instance: "n1", Addr: "10.0.0.5:7701", TXT: map[string]string{"id": "n1", "cores": "4"}},
			ok:   true,
		},
		{name: "IPv6 only", se: mdns.ServiceEntry{Name: "n1._tessera._tcp.local.", AddrV6: net.ParseIP("fe80::1"), Port: 7701}},
		{name: "no port", se: mdns.ServiceEntry{Name: "n1._tessera._tcp.local.", AddrV4: net.IPv4(10, 0, 0, 5)}},
		{name: "unspecified", se: mdns.ServiceEntry{Name: "n1._tessera._tcp.local.", AddrV4: net.IPv4zero, Port: 7701}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := entryFrom(&tt.se, NodeService)
			if ok != tt.ok || ok && (got.Instance != tt.want.Instance || got.Addr != tt.want.Addr || !maps.Equal(got.TXT, tt.want.TXT)) {
				t.Errorf("entryFrom = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEntryNode(t *testing.T) {
	n := Node{ID: "n1", Name: "pc 1", Cores: 12, Version: "0.1.0"}
	e := Entry{Instance: "n1", Addr: "10.0.0.5:7701", TXT: parseTXT(NodeTXT(n, 3))}
	got, err := e.Node()
	want := Node{ID: "n1", Name: "pc 1", Addr: "10.0.0.5:7701", Cores: 12, Version: "0.1.0", Source: SourceMDNS}
	if err != nil || got != want {
		t.Errorf("Node() = %+v, %v; want %+v", got, err, want)
	}
	if e.Proto() != 3 {
		t.Errorf("Proto() = %d, want 3", e.Proto())
	}
	bad := []struct {
		name string
		txt  map[string]string
		want error
	}{
		{name: "no cores", txt: map[string]string{"id": "n1"}, want: ErrInvalidCore},
		{name: "zero cores", txt: map[string]string{"id": "n1", "cores": "0"}, want: ErrInvalidCore},
		{name: "bad id", txt: map[string]string{"id": "a b", "cores": "1"}, want: ErrInvalidID},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := (Entry{Instance: "n1", Addr: "10.0.0.5:7701", TXT: tt.txt}).Node(); !errors.Is(err, tt.want) {
				t.Errorf("Node() error %v, want %v", err, tt.want)
			}
		})
	}
	// state= travels; a malformed one is dropped, the node still joins.
	n.State = protocol.StatePausedSchedule
	if got, err := (Entry{Instance: "n1", Addr: "10.0.0.5:7701", TXT: parseTXT(NodeTXT(n, 3))}).Node(); err != nil || got.State != protocol.StatePausedSchedule {
		t.Errorf("Node() = %+v, %v; want state paused-schedule", got, err)
	}
	if got, err := (Entry{Instance: "n1", Addr: "10.0.0.5:7701", TXT: map[string]string{"cores": "1", "state": "Bad State"}}).Node(); err != nil || got.State != "" {
		t.Errorf("Node() = %+v, %v; want the node without its malformed state", got, err)
	}
	// Without id= the instance name is the id; without name= the id is.
	got, err = (Entry{Instance: "n9", Addr: "10.0.0.9:1", TXT: map[string]string{"cores": "1"}}).Node()
	if err != nil || got.ID != "n9" || got.Name != "n9" {
		t.Errorf("Node() = %+v, %v", got, err)
	}
}

func TestAnnounceAndBrowseRefuseBadConfig(t *testing.T) {
	// Each case fails validation before any socket is opened.
	tests := []struct {
		name string
		cfg  AnnounceConfig
		want string
	}{
		{name: "service", cfg: AnnounceConfig{Service: "tessera", Instance: "n1", Port: 1}, want: "_name._tcp"},
		{name: "instance", cfg: AnnounceConfig{Service: NodeService, Instance: "a.b", Port: 1}, want: "invalid node id"},
		{name: "port", cfg: AnnounceConfig{Service: NodeService, Instance: "n1", Port: 0}, want: "port 0"},
		{name: "TXT", cfg: AnnounceConfig{Service: NodeService, Instance: "n1", Port: 1, TXT: []string{strings.Repeat("x", 256)}}, want: "255 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Announce(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Announce: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := Browse(context.Background(), "_bad", time.Millisecond); err == nil {
		t.Error("Browse of a malformed service did not fail")
	}
}
