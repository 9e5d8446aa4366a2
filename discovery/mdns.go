package discovery

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/rs/zerolog"

	"tessera/protocol"
)

// mDNS service names.
const (
	NodeService     = "_tessera._tcp"          // a compute node (tessera node)
	RegistryService = "_tessera-registry._tcp" // a registry (tessera registry)

	// DefaultBrowseTimeout is how long one Browse listens for answers. On a
	// LAN they arrive within milliseconds; hashicorp/mdns always waits the
	// whole timeout, so it is kept short.
	DefaultBrowseTimeout = 400 * time.Millisecond
)

// ErrNoMulticast: this host has no multicast-capable interface or no route
// for 224.0.0.0/4, so mDNS cannot work here (use a registry).
var ErrNoMulticast = errors.New("no IPv4 multicast on this host")

// AnnounceConfig configures Announce.
type AnnounceConfig struct {
	// Service is NodeService or RegistryService (any "_name._tcp" works).
	Service string
	// Instance names this announcement; it must be unique on the LAN (use
	// the node id: mDNS merges equal instance names into one) and a valid
	// node id (see CheckID). It is also the host name of the answers.
	Instance string
	// Port is the announced TCP port.
	Port int
	// TXT records, "key=value" each (see NodeTXT).
	TXT []string
	// Interfaces restricts the announcement to these interface names; empty
	// means every multicast-capable interface.
	Interfaces []string
	// Updates, when not nil, brings new TXT records (a node's new state):
	// each replaces TXT, and the responders restart with it, so that the
	// next query of every browser gets it.
	Updates <-chan []string
	// Logger: the zero value discards.
	Logger zerolog.Logger
}

// Announce answers mDNS queries for cfg.Service until ctx ends: one
// responder per multicast-capable IPv4 interface, each answering with that
// interface's own address. If the host has no such interface (or no
// responder can listen), it logs one warning and returns nil at once: the
// caller goes on with a registry. Invalid configuration is an error.
//
// Announce never sends unsolicited announcements (hashicorp/mdns does not);
// browsers find it with their next query.
func Announce(ctx context.Context, cfg AnnounceConfig) error {
	if err := checkService(cfg.Service); err != nil {
		return fmt.Errorf("discovery: announce: %w", err)
	}
	if err := CheckID(cfg.Instance); err != nil {
		return fmt.Errorf("discovery: announce: instance: %w", err)
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return fmt.Errorf("discovery: announce: port %d is not 1 to 65535", cfg.Port)
	}
	if err := checkTXT(cfg.TXT); err != nil {
		return err
	}
	ifs, err := systemInterfaces()
	if err != nil {
		cfg.Logger.Warn().Err(err).Msg("mDNS disabled: cannot list network interfaces")
		return nil
	}
	targets := pickInterfaces(ifs, cfg.Interfaces)
	if len(targets) == 0 {
		cfg.Logger.Warn().Str("service", cfg.Service).Msg("mDNS disabled: no multicast-capable IPv4 interface; use a registry")
		return nil
	}
	stdlog := log.New(zerologWriter{cfg.Logger}, "", 0)
	servers, names := startResponders(cfg, targets, cfg.TXT, stdlog)
	if len(servers) == 0 {
		cfg.Logger.Warn().Str("service", cfg.Service).Msg("mDNS disabled: no interface could listen for queries; use a registry")
		return nil
	}
	cfg.Logger.Info().Str("service", cfg.Service).Str("instance", cfg.Instance).Int("port", cfg.Port).
		Strs("interfaces", names).Msg("announcing over mDNS")
	stop := func() {
		for _, s := range servers {
			_ = s.Shutdown() // only closes sockets; never fails
		}
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			return nil
		case txt := <-cfg.Updates:
			if err := checkTXT(txt); err != nil {
				cfg.Logger.Error().Err(err).Msg("mDNS: not announcing an invalid update; keeping the last records")
				continue
			}
			stop()
			servers, _ = startResponders(cfg, targets, txt, stdlog)
			cfg.Logger.Debug().Strs("txt", txt).Int("responders", len(servers)).Msg("mDNS: announcing new TXT records")
		}
	}
}

func checkTXT(txt []string) error {
	for _, t := range txt {
		if len(t) > 255 {
			return fmt.Errorf("discovery: announce: TXT record %.20q... is over 255 bytes", t)
		}
	}
	return nil
}

// startResponders starts one responder per target with these TXT records;
// a target that fails is logged and skipped.
func startResponders(cfg AnnounceConfig, targets []ifaceTarget, txt []string, stdlog *log.Logger) ([]*mdns.Server, []string) {
	var servers []*mdns.Server
	var names []string
	for _, t := range targets {
		zone, err := mdns.NewMDNSService(cfg.Instance, cfg.Service, "local.", cfg.Instance+".local.",
			cfg.Port, []net.IP{t.ip}, txt)
		if err != nil {
			cfg.Logger.Warn().Err(err).Str("iface", t.iface.Name).Msg("mDNS: cannot describe the service")
			continue
		}
		iface := t.iface
		srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: &iface, Logger: stdlog})
		if err != nil {
			cfg.Logger.Warn().Err(err).Str("iface", t.iface.Name).Msg("mDNS: cannot listen on the interface")
			continue
		}
		servers = append(servers, srv)
		names = append(names, t.iface.Name+"="+t.ip.String())
	}
	return servers, names
}

// checkService accepts "_name._tcp" or "_name._udp".
func checkService(s string) error {
	name, proto, ok := strings.Cut(s, ".")
	if !ok || len(name) < 2 || name[0] != '_' || (proto != "_tcp" && proto != "_udp") {
		return fmt.Errorf("service %q is not of the form _name._tcp", s)
	}
	if err := CheckID(name[1:]); err != nil {
		return fmt.Errorf("service %q: %w", s, err)
	}
	return nil
}

// ifaceInfo is an interface and its addresses (a seam for tests).
type ifaceInfo struct {
	iface net.Interface
	addrs []net.Addr
}

type ifaceTarget struct {
	iface net.Interface
	ip    net.IP
}

func systemInterfaces() ([]ifaceInfo, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]ifaceInfo, 0, len(ifs))
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		out = append(out, ifaceInfo{iface: ifc, addrs: addrs})
	}
	return out, nil
}

// pickInterfaces returns the interfaces to announce on: up, multicast, not
// loopback, with an IPv4 address (the first one), and named in only when
// only is not empty.
func pickInterfaces(ifs []ifaceInfo, only []string) []ifaceTarget {
	var out []ifaceTarget
	for _, ii := range ifs {
		f := ii.iface.Flags
		if f&net.FlagUp == 0 || f&net.FlagMulticast == 0 || f&net.FlagLoopback != 0 {
			continue
		}
		if len(only) > 0 && !contains(only, ii.iface.Name) {
			continue
		}
		for _, a := range ii.addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip4 := ipn.IP.To4(); ip4 != nil && !ip4.IsLoopback() {
				out = append(out, ifaceTarget{iface: ii.iface, ip: ip4})
				break
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// NodeTXT returns the TXT records a node announces: id, name, cores,
// version, the protocol version proto and, when set, its state.
func NodeTXT(n Node, proto int) []string {
	txt := []string{
		"id=" + n.ID,
		"name=" + n.Name,
		"cores=" + strconv.Itoa(n.Cores),
		"version=" + n.Version,
		"proto=" + strconv.Itoa(proto),
	}
	if n.State != "" {
		txt = append(txt, "state="+string(n.State))
	}
	return txt
}

// Entry is one mDNS answer.
type Entry struct {
	Instance string            // instance name (a node id)
	Addr     string            // IPv4 host:port
	TXT      map[string]string // parsed "key=value" records; the first of a key wins
}

// Node returns the node an entry of NodeService describes: id from TXT id=
// (or the instance name), cores from cores= (required), name=, version= and
// state= (a malformed state is dropped: an older or newer node still joins).
func (e Entry) Node() (Node, error) {
	id := e.TXT["id"]
	if id == "" {
		id = e.Instance
	}
	if err := CheckID(id); err != nil {
		return Node{}, fmt.Errorf("discovery: mDNS answer %q: %w", e.Instance, err)
	}
	cores, err := strconv.Atoi(e.TXT["cores"])
	if err != nil || cores < 1 || cores > MaxCores {
		return Node{}, fmt.Errorf("discovery: mDNS answer %q: %w: TXT cores=%q, want 1 to %d", e.Instance, ErrInvalidCore, e.TXT["cores"], MaxCores)
	}
	name := e.TXT["name"]
	if name == "" {
		name = id
	}
	st := protocol.NodeState(e.TXT["state"])
	if CheckState(st) != nil {
		st = ""
	}
	return Node{ID: id, Name: name, Addr: e.Addr, Cores: cores, Version: e.TXT["version"], State: st, Source: SourceMDNS}, nil
}

// Proto returns the protocol version in TXT proto=, or 0.
func (e Entry) Proto() int {
	p, _ := strconv.Atoi(e.TXT["proto"]) // absent or malformed: 0, "unknown"
	return p
}

// parseTXT turns "k=v" records into a map; the first record of a key wins
// (RFC 6763 section 6.4), a record without '=' is a key with an empty value.
func parseTXT(fields []string) map[string]string {
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		k = strings.ToLower(k)
		if _, dup := m[k]; k == "" || dup {
			continue
		}
		m[k] = v
	}
	return m
}

// entryFrom converts a library entry; ok is false when it has no IPv4
// address or port (hashicorp/mdns may deliver such entries).
func entryFrom(se *mdns.ServiceEntry, service string) (Entry, bool) {
	ip, ok := netip.AddrFromSlice(se.AddrV4)
	if !ok || se.Port <= 0 || se.Port > 65535 {
		return Entry{}, false
	}
	ip = ip.Unmap()
	if !ip.Is4() || ip.IsUnspecified() {
		return Entry{}, false
	}
	instance := strings.TrimSuffix(se.Name, ".")
	instance = strings.TrimSuffix(instance, ".local")
	instance = strings.TrimSuffix(instance, "."+service)
	return Entry{
		Instance: instance,
		Addr:     netip.AddrPortFrom(ip, uint16(se.Port)).String(),
		TXT:      parseTXT(se.InfoFields),
	}, true
}

// Browse sends one mDNS query for service (over IPv4 only) and returns the
// answers that carry an IPv4 address, one per instance, after timeout
// (DefaultBrowseTimeout when <= 0). It returns ErrNoMulticast at once when
// the host has no route for multicast. Call it in a loop to see nodes that
// start later: mDNS here has no announcements.
//
// If ctx ends first, Browse returns ctx.Err() once the query has stopped
// (within timeout).
func Browse(ctx context.Context, service string, timeout time.Duration) ([]Entry, error) {
	if err := checkService(service); err != nil {
		return nil, fmt.Errorf("discovery: browse: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultBrowseTimeout
	}
	if err := multicastRoute(); err != nil {
		return nil, fmt.Errorf("discovery: browse %s: %w", service, err)
	}
	// The library never blocks on this channel (it drops entries when it is
	// full), so it is buffered and read while the query runs. The entries
	// are read only after the query has returned: the library may still
	// write to an entry it already sent.
	ch := make(chan *mdns.ServiceEntry, 256)
	params := &mdns.QueryParam{
		Service:     service,
		Domain:      "local",
		Timeout:     timeout,
		Entries:     ch,
		DisableIPv6: true, // a tentative IPv6 address fails the whole query
		Logger:      log.New(zerologWriter{zerolog.Nop()}, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- mdns.QueryContext(ctx, params) }()
	var got []*mdns.ServiceEntry
	var qerr error
	for waiting := true; waiting; {
		select {
		case se := <-ch:
			got = append(got, se)
		case qerr = <-done:
			waiting = false
		}
	}
	for drained := false; !drained; {
		select {
		case se := <-ch:
			got = append(got, se)
		default:
			drained = true
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if qerr != nil {
		return nil, fmt.Errorf("discovery: browse %s: %w", service, qerr)
	}
	seen := make(map[string]bool, len(got))
	out := make([]Entry, 0, len(got))
	for _, se := range got {
		e, ok := entryFrom(se, service)
		if !ok || seen[e.Instance] {
			continue
		}
		seen[e.Instance] = true
		out = append(out, e)
	}
	return out, nil
}

// multicastRoute checks, without sending anything, that the kernel has a
// route for the mDNS group (connecting a UDP socket only looks it up).
func multicastRoute() error {
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		return fmt.Errorf("%w: %v (add a default route or one for 224.0.0.0/4)", ErrNoMulticast, err)
	}
	return c.Close()
}
