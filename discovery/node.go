package discovery

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"tessera/protocol"
)

// Limits on the fields of a Record. They are part of the registry's API v1.
const (
	MaxIDLen      = 63  // one DNS label: the id is also the mDNS instance name
	MaxNameLen    = 64  // bytes of UTF-8
	MaxVersionLen = 64  // bytes
	MaxHostLen    = 253 // a DNS name
	MaxCores      = 1 << 16
	MaxStateLen   = 32 // bytes of a state: a-z, 0-9 and '-'
)

// Record is a node as the registry stores and lists it (API v1 JSON).
type Record struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Addr    string `json:"addr"` // host:port of the node's protocol listener
	Cores   int    `json:"cores"`
	Version string `json:"version"`
	// State says whether the node takes tiles now: ready, paused-busy or
	// paused-schedule (protocol.NodeState); empty from nodes of earlier
	// versions (ready). A registry stores any well-formed state, so that
	// states added later need no new registry.
	State protocol.NodeState `json:"state,omitempty"`
	// Started and Seq order a node's writes: when the node's heartbeat
	// began (its process, or its run) and the number of this write in that
	// run, from 1. The registry refuses a write older than the live record
	// it holds: from a process started earlier (a restarted node's
	// predecessor, whose heartbeat arrives late), or of the same process
	// with a lower Seq. Zero in records of nodes of earlier versions: never
	// refused.
	Started time.Time `json:"started,omitzero"`
	Seq     uint64    `json:"seq,omitempty"`
	// LastSeen is set by the registry: the time of the last register or
	// heartbeat. Ignored in a PUT body.
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Source says how a node was found.
type Source uint8

// The sources of a Node. The String form appears in logs and in the
// controller's stats JSON.
const (
	SourceUnknown  Source = iota
	SourceFlag            // an address given explicitly (tessera render -nodes)
	SourceMDNS            // an mDNS answer on the local network
	SourceRegistry        // listed by a registry
	SourceLocal           // the controller's in-process node (set by the controller, never by discovery)
)

var sourceNames = [...]string{
	SourceUnknown:  "unknown",
	SourceFlag:     "flag",
	SourceMDNS:     "mdns",
	SourceRegistry: "registry",
	SourceLocal:    "local",
}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the source as its name ("mdns", "registry", ...).
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a source's name, so that stats JSON reads back.
func (s *Source) UnmarshalText(b []byte) error {
	for i, name := range sourceNames {
		if string(b) == name {
			*s = Source(i)
			return nil
		}
	}
	return fmt.Errorf("discovery: unknown source %q", b)
}

// Node is one live node in a Watcher's merged view.
type Node struct {
	// ID is the node's unique id; empty for a node given by address
	// (SourceFlag), whose id only a handshake proves. Key is what the node
	// is told apart by until then.
	ID      string
	Name    string
	Addr    string // host:port to dial
	Cores   int
	Version string
	State   protocol.NodeState // as announced or registered when the node joined; its connection's Pong is the live one
	Source  Source             // the source that found the node first
}

// Key is what a node is known by: its ID, or "addr:" + Addr for a node
// whose id is not known yet (never a valid id, which has no ':'). The
// watcher's view and the controller's records are keyed by it; a
// controller keys a node by its proven id once the handshake is done.
func (n Node) Key() string {
	if n.ID != "" {
		return n.ID
	}
	return "addr:" + n.Addr
}

// NewID returns a fresh random node id: 16 lower-case hex digits.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Validation errors. Each error returned by a Check function wraps one of
// them, so callers can test with errors.Is and still show a precise message.
var (
	ErrInvalidID    = errors.New("invalid node id")
	ErrInvalidName  = errors.New("invalid node name")
	ErrInvalidAddr  = errors.New("invalid node address")
	ErrInvalidCore  = errors.New("invalid core count")
	ErrInvalidVer   = errors.New("invalid version")
	ErrInvalidState = errors.New("invalid node state")
)

// CheckID reports whether id is a valid node id: 1 to 63 bytes of ASCII
// letters, digits, '-' and '_'. (It is also the mDNS instance name, one DNS
// label.)
func CheckID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalidID, len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isIDByte(c) {
			return fmt.Errorf("%w: %q has %q at byte %d (allowed: letters, digits, '-', '_')", ErrInvalidID, id, rune(c), i)
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// checkText checks a free-text field: valid UTF-8, no control characters,
// at most max bytes.
func checkText(field, s string, max int, sentinel error) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes long, the limit is %d", sentinel, field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", sentinel, field)
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q has a control character at byte %d", sentinel, field, s, i)
		}
	}
	return nil
}

// CheckAddr reports whether addr is a valid "host:port" for a node: the port
// a number from 1 to 65535, the host empty, an IP address or a DNS name.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q is not host:port", ErrInvalidAddr, addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("%w: %q: port %q is not a number from 1 to 65535", ErrInvalidAddr, addr, port)
	}
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	if err := checkHostname(host); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrInvalidAddr, addr, err)
	}
	return nil
}

// checkHostname accepts DNS names: labels of 1 to 63 letters, digits, '-'
// or '_', separated by dots, 253 bytes at most.
func checkHostname(host string) error {
	if len(host) > MaxHostLen {
		return fmt.Errorf("host is %d bytes long, the limit is %d", len(host), MaxHostLen)
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q has an empty or over-long label", host)
		}
		for i := 0; i < len(label); i++ {
			if !isIDByte(label[i]) {
				return fmt.Errorf("host %q has %q, not allowed in a host name", host, rune(label[i]))
			}
		}
	}
	return nil
}

// Check validates every field of r except LastSeen, as the registry does
// before storing it. The error names the field and what was wrong.
func (r Record) Check() error {
	if err := CheckID(r.ID); err != nil {
		return err
	}
	if err := checkText("name", r.Name, MaxNameLen, ErrInvalidName); err != nil {
		return err
	}
	if err := CheckAddr(r.Addr); err != nil {
		return err
	}
	if r.Cores < 1 || r.Cores > MaxCores {
		return fmt.Errorf("%w: cores is %d, want 1 to %d", ErrInvalidCore, r.Cores, MaxCores)
	}
	if err := checkText("version", r.Version, MaxVersionLen, ErrInvalidVer); err != nil {
		return err
	}
	return CheckState(r.State)
}

// CheckState reports whether st is empty or a well-formed state: 1 to 32
// bytes of lower-case letters, digits and '-', starting with a letter. It
// need not be one this version knows.
func CheckState(st protocol.NodeState) error {
	s := string(st)
	if len(s) > MaxStateLen {
		return fmt.Errorf("%w: state is %d bytes long, the limit is %d", ErrInvalidState, len(s), MaxStateLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return fmt.Errorf("%w: state %q has %q at byte %d (want a-z, then a-z, 0-9 or '-', e.g. ready, paused-busy)", ErrInvalidState, s, rune(c), i)
		}
	}
	return nil
}
