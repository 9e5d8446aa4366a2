package main

// The room's token end to end (issue 8): registry, nodes and controller as
// real processes on loopback, the wire captured with tcpdump; and every
// refusal of a peer without the token.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	byteorder "encoding/binary" // "binary" is the test binary (proc_test.go)
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// requireCapture returns the path of tcpdump, or skips the test (fails it
// when TESSERA_CI is set, as CI installs tcpdump and runs as root).
func requireCapture(t *testing.T) string {
	t.Helper()
	why := ""
	path, err := exec.LookPath("tcpdump")
	switch {
	case os.Geteuid() != 0:
		why = "capturing loopback traffic needs root"
	case err != nil:
		why = "tcpdump is not installed (apt-get install tcpdump)"
	}
	if why != "" {
		if os.Getenv("TESSERA_CI") != "" {
			t.Fatalf("%s; TESSERA_CI is set, so this is a failure", why)
		}
		t.Skip(why)
	}
	return path
}

// freeLoopbackAddr returns 127.0.0.1:PORT where nothing listens now, for a
// process that must listen on a port known in advance.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startCapture captures the loopback TCP traffic of the given ports into
// file until stopped (the process's stop: SIGINT, which flushes the file).
func startCapture(t *testing.T, tcpdump, file string, addrs ...string) *process {
	t.Helper()
	var ports []string
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, "port "+port)
	}
	filter := "tcp and (" + strings.Join(ports, " or ") + ")"
	p := startProcess(t, tcpdump, "-i", "lo", "-n", "-U", "-s", "0", "-w", file, filter)
	p.name = "tcpdump"
	p.waitMatch(t, regexp.MustCompile(`listening on lo`), 20*time.Second)
	return p
}

// tcpFlow is one direction of a TCP connection.
type tcpFlow struct{ src, dst netip.AddrPort }

// tcpStreams reads a pcap file (Ethernet or Linux cooked link layer, IPv4)
// and returns the payload of every TCP flow, reassembled in sequence order
// (retransmissions and overlaps counted once). It fails the test on a gap:
// a capture that missed bytes proves nothing about them.
func tcpStreams(t *testing.T, file string) map[tcpFlow][]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 {
		t.Fatalf("%s: %d bytes, not a pcap file", file, len(data))
	}
	var order byteorder.ByteOrder = byteorder.LittleEndian
	switch m := byteorder.LittleEndian.Uint32(data); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
	default:
		if m = byteorder.BigEndian.Uint32(data); m != 0xa1b2c3d4 && m != 0xa1b23c4d {
			t.Fatalf("%s: magic %#x, not a pcap file", file, m)
		}
		order = byteorder.BigEndian
	}
	var linkHeader, protoAt int
	switch link := order.Uint32(data[20:]); link {
	case 1: // Ethernet
		linkHeader, protoAt = 14, 12
	case 113: // Linux cooked capture v1
		linkHeader, protoAt = 16, 14
	case 276: // Linux cooked capture v2
		linkHeader, protoAt = 20, 0
	default:
		t.Fatalf("%s: link type %d not supported", file, link)
	}
	type segment struct {
		seq  uint32
		data []byte
	}
	segs := map[tcpFlow][]segment{}
	isn := map[tcpFlow]uint32{} // initial sequence numbers seen in SYNs
	for rest := data[24:]; len(rest) >= 16; {
		n := int(order.Uint32(rest[8:]))
		if 16+n > len(rest) {
			t.Fatalf("%s: truncated record", file)
		}
		pkt := rest[16 : 16+n]
		rest = rest[16+n:]
		if len(pkt) < linkHeader+20 || byteorder.BigEndian.Uint16(pkt[protoAt:]) != 0x0800 {
			continue // not IPv4
		}
		ip := pkt[linkHeader:]
		ihl, total := int(ip[0]&0x0f)*4, int(byteorder.BigEndian.Uint16(ip[2:]))
		if ip[9] != 6 || total > len(ip) || ihl+20 > total {
			continue // not TCP, or cut short
		}
		src, _ := netip.AddrFromSlice(ip[12:16])
		dst, _ := netip.AddrFromSlice(ip[16:20])
		tcp := ip[ihl:total]
		f := tcpFlow{
			src: netip.AddrPortFrom(src, byteorder.BigEndian.Uint16(tcp[0:])),
			dst: netip.AddrPortFrom(dst, byteorder.BigEndian.Uint16(tcp[2:])),
		}
		seq, off := byteorder.BigEndian.Uint32(tcp[4:]), int(tcp[12]>>4)*4
		if tcp[13]&0x02 != 0 { // SYN: data starts at the next number
			isn[f] = seq + 1
		}
		if off < len(tcp) {
			segs[f] = append(segs[f], segment{seq: seq, data: tcp[off:]})
		}
	}
	streams := map[tcpFlow][]byte{}
	for f, ss := range segs {
		base, ok := isn[f]
		if !ok { // the connection began before the capture: from its first segment
			base = ss[0].seq
		}
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].seq-base < ss[j].seq-base })
		var buf []byte
		for _, s := range ss {
			at := int(s.seq - base)
			switch {
			case at > len(buf):
				t.Fatalf("%s: flow %v misses bytes %d to %d: the capture is incomplete", file, f, len(buf), at)
			case at+len(s.data) > len(buf):
				buf = append(buf, s.data[len(buf)-at:]...)
			}
		}
		streams[f] = buf
	}
	return streams
}

// TestTokenNeverOnTheWire: a registry, two nodes and a controller, all with
// the token (the registry and one node from TESSERA_TOKEN, the others from
// -token), register, heartbeat, render and deregister on loopback while
// tcpdump captures every byte they exchange. The render equals the local
// one; the capture holds the signed registry writes and the registry's
// signed answers, not the token in any form, and nothing of the scene or
// the tiles (the frames are sealed). A control render without a token,
// captured the same way, shows that the same searches find all of it in
// the clear.
func TestTokenNeverOnTheWire(t *testing.T) {
	tcpdump := requireCapture(t)
	verifyNoLeaks(t)
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(key) // 32 characters, as README advises
	regAddr, addrA, addrB, addrPlain := freeLoopbackAddr(t), freeLoopbackAddr(t), freeLoopbackAddr(t), freeLoopbackAddr(t)
	dir := t.TempDir()
	file, plainFile := filepath.Join(dir, "lo.pcap"), filepath.Join(dir, "plain.pcap")
	capture := startCapture(t, tcpdump, file, regAddr, addrA, addrB)
	plainCapture := startCapture(t, tcpdump, plainFile, addrPlain)

	bin := tesseraBinary(t)
	t.Setenv("TESSERA_TOKEN", token)
	reg := startProcess(t, bin, "registry", "-listen", regAddr, "-no-mdns", "-ttl", "3s")
	reg.waitMatch(t, regexp.MustCompile(`signed writes: true`), 20*time.Second)
	a := startNode(t, "token-a", "-listen", addrA, "-registry", regAddr)
	os.Unsetenv("TESSERA_TOKEN") // restored when the test ends
	b := startNode(t, "token-b", "-listen", addrB, "-registry", regAddr, "-token", token)
	plain := startNode(t, "plain", "-listen", addrPlain)
	registered := regexp.MustCompile(`registered with the registry`)
	a.waitMatch(t, registered, 20*time.Second)
	b.waitMatch(t, registered, 20*time.Second)
	for _, n := range []*testNode{a, b} {
		if strings.Contains(n.out.String(), "frames are not protected") {
			t.Errorf("node %s with a token says its frames are not protected:\n%s", n.addr, n.out.String())
		}
	}
	plain.waitMatch(t, regexp.MustCompile(`no token: frames are not protected`), 20*time.Second)

	args := renderArgs(cornell)
	want := localPNG(t, args)
	d := startRender(t, append(args, "-local", "0", "-registry", regAddr, "-token", token, "-discover", "5s")...)
	img, st := d.finish(t)
	sameImage(t, "with a token", img, want)
	if tiles := nodeTiles(st); tiles["token-a"] == 0 || tiles["token-b"] == 0 {
		t.Errorf("tiles per node %v: want both nodes at work", tiles)
	}
	if strings.Contains(d.out.String(), "frames are not protected") {
		t.Errorf("the controller with a token says its frames are not protected:\n%s", d.out.String())
	}
	dp := startRender(t, append(args, "-local", "0", "-nodes", addrPlain)...)
	img, _ = dp.finish(t)
	sameImage(t, "without a token", img, want)
	if countLines(dp.out.String(), "no token: frames are not protected") != 1 {
		t.Errorf("the controller without a token does not say once that its frames are not protected:\n%s", dp.out.String())
	}
	b.stop(t) // deregisters: a signed DELETE
	// tcpdump writes each packet as it reads it (-U), a little behind the
	// wire: stop it once the last request is in the file.
	waitFor(t, "the deregistration in the capture", 10*time.Second, func() bool {
		data, err := os.ReadFile(file)
		return err == nil && bytes.Contains(data, []byte("DELETE /v1/nodes/"))
	})
	// The control capture is stopped once it holds everything searched for
	// (each piece crosses in one write, so in one packet).
	content := renderContent(t, args)
	waitFor(t, "the render without a token in the control capture", 10*time.Second, func() bool {
		data, err := os.ReadFile(plainFile)
		if err != nil {
			return false
		}
		for _, s := range content {
			if !bytes.Contains(data, s) {
				return false
			}
		}
		return true
	})
	plain.stop(t)
	capture.stop(t)
	plainCapture.stop(t)
	for _, c := range []*process{capture, plainCapture} {
		if !regexp.MustCompile(`(?m)^0 packets dropped by kernel`).MatchString(c.out.String()) {
			t.Errorf("tcpdump dropped packets:\n%s", c.out.String())
		}
	}

	toServer := map[string][]byte{} // every byte sent to each listening port
	var all [][]byte
	for f, s := range tcpStreams(t, file) {
		toServer[f.dst.String()] = append(toServer[f.dst.String()], s...)
		all = append(all, s)
	}
	for _, c := range []struct {
		what, addr string
		want       []byte
	}{
		{"a signed registration", regAddr, []byte("PUT /v1/nodes/")},
		{"a signature", regAddr, []byte("Authorization: Tessera ts=")},
		{"a signed deregistration", regAddr, []byte("DELETE /v1/nodes/")},
	} {
		if !bytes.Contains(toServer[c.addr], c.want) {
			t.Errorf("the capture of the traffic to %s lacks %s (%d bytes captured)", c.addr, c.what, len(toServer[c.addr]))
		}
	}
	sealed := bytes.Join(all, nil)
	if !bytes.Contains(sealed, []byte("Tessera-Signature: ")) {
		t.Error("the capture lacks the registry's signed answers")
	}
	var plainWire []byte
	for _, s := range tcpStreams(t, plainFile) {
		plainWire = append(plainWire, s...)
	}
	for what, s := range content {
		if !bytes.Contains(plainWire, s) {
			t.Errorf("the control capture without a token lacks %s: the search proves nothing", what)
		}
		if i := bytes.Index(sealed, s); i >= 0 {
			t.Errorf("%s is readable in the capture of the render with a token, at byte %d", what, i)
		}
	}
	forms := map[string][]byte{
		"as is":   []byte(token),
		"hex":     []byte(hex.EncodeToString([]byte(token))),
		"HEX":     []byte(strings.ToUpper(hex.EncodeToString([]byte(token)))),
		"base64":  []byte(base64.StdEncoding.EncodeToString([]byte(token))),
		"decoded": key,
	}
	for f, s := range tcpStreams(t, file) {
		for name, form := range forms {
			if i := bytes.Index(s, form); i >= 0 {
				t.Errorf("the token (%s) crossed the wire: flow %v -> %v, byte %d", name, f.src, f.dst, i)
			}
		}
	}
}

// renderContent returns what a render of args puts on the wire in the
// clear without a token: the scene file, a line of its mesh, a string from
// the scene file, the scene's hash (every TileJob names it) and a row of one
// tile's pixels as float32 (the bytes of a TileResult).
func renderContent(t *testing.T, args []string) map[string][]byte {
	t.Helper()
	scene, err := os.ReadFile(cornell)
	if err != nil {
		t.Fatal(err)
	}
	mesh, err := os.ReadFile(filepath.Join(filepath.Dir(cornell), "../meshes/cornell-box.obj"))
	if err != nil {
		t.Fatal(err)
	}
	firstLine, _, _ := strings.Cut(string(mesh), "\n")
	out := filepath.Join(t.TempDir(), "local.pfm")
	p := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "2", "-o", out}, args...)...)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("local render: exit %d: %s", code, p.out.String())
	}
	pfm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// PF\n96 64\n-1.0\n, then rows bottom to top, little-endian floats: row
	// 36 from the top, columns 48 to 56, is one row of the 8x8 tile at (48, 32).
	const w, h, x0, y, side = 96, 64, 48, 36, 8
	header := fmt.Sprintf("PF\n%d %d\n-1.0\n", w, h)
	if !bytes.HasPrefix(pfm, []byte(header)) || len(pfm) != len(header)+w*h*12 {
		t.Fatalf("%s: not a %dx%d PFM (%d bytes)", out, w, h, len(pfm))
	}
	at := len(header) + ((h-1-y)*w+x0)*12
	return map[string][]byte{
		"the scene file":           scene,
		"the mesh's first line":    []byte(firstLine),
		`the scene's "39.3077"`:    []byte("39.3077"),
		"the scene's hash":         []byte(sceneMessage(t, cornell).Hash),
		"a row of a tile's pixels": pfm[at : at+side*12],
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// TestTokenRefusals: a node refuses a controller without the token (or with
// another one), a controller refuses a node without it: the render exits 1
// and its last line names the node and the reason; the refusing node logs
// it once.
func TestTokenRefusals(t *testing.T) {
	verifyNoLeaks(t)
	for _, tc := range []struct {
		name                string
		nodeToken, ctlToken string
		reason              string
		nodeLog             string // the node's one line about it
	}{
		{name: "node with a token, controller without", nodeToken: "room-1", reason: "the node requires a token and the controller has none", nodeLog: "the node requires a token and the controller has none"},
		{name: "node and controller with different tokens", nodeToken: "room-1", ctlToken: "room-2", reason: "the tokens differ", nodeLog: "the tokens differ"},
		{name: "controller with a token, node without", ctlToken: "room-1", reason: "the controller requires a token and the node has none", nodeLog: "handshake failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, "refusing", "-token", tc.nodeToken)
			d := startRender(t, renderArgs(cornell, "-local", "0", "-nodes", n.addr, "-token", tc.ctlToken, "-discover", "200ms")...)
			if code := d.wait(t, time.Minute); code != 1 {
				t.Fatalf("render exit %d, want 1:\n%s", code, d.out.String())
			}
			if last := lastLine(d.out.String()); !strings.Contains(last, n.addr) || !strings.Contains(last, tc.reason) {
				t.Errorf("last line %q: want the node %s and %q", last, n.addr, tc.reason)
			}
			if _, err := os.Stat(d.image); err == nil {
				t.Error("an image was written")
			}
			waitFor(t, "the node to log the refusal", 10*time.Second, func() bool { return countLines(n.out.String(), tc.nodeLog) > 0 })
			if got := countLines(n.out.String(), tc.nodeLog); got != 1 {
				t.Errorf("node logged %d lines with %q, want 1:\n%s", got, tc.nodeLog, n.out.String())
			}
			if c := n.counters(t); c.JobsDone != 0 || c.Scenes != 0 {
				t.Errorf("the node rendered %d jobs and holds %d scenes for a refused controller", c.JobsDone, c.Scenes)
			}
		})
	}
}

// countingProxy forwards to a registry and counts the PUTs it forwards.
func countingProxy(t *testing.T, registry string) (addr string, puts *atomic.Int64) {
	t.Helper()
	target, err := url.Parse("http://" + registry)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	puts = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	return strings.TrimPrefix(srv.URL, "http://"), puts
}

// TestRegistryTokenRefusals: a node refuses a registry without the token
// (its answers are unsigned) and a registry refuses a node without the
// token or with another one. Whatever the number of attempts, the node says
// why in one log line and never claims to be registered.
func TestRegistryTokenRefusals(t *testing.T) {
	verifyNoLeaks(t)
	for _, tc := range []struct {
		name                string
		regToken, nodeToken string
		nodeLog             string
		listed              bool // the registry stores the node
	}{
		{name: "registry without a token", nodeToken: "room-1", nodeLog: "refusing the registry: its answers are not signed with our token", listed: true},
		{name: "node without a token", regToken: "room-1", nodeLog: "the registry refuses our signature"},
		{name: "different tokens", regToken: "room-1", nodeToken: "room-2", nodeLog: "the registry refuses our signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := startProcess(t, tesseraBinary(t), "registry", "-listen", "127.0.0.1:0", "-no-mdns", "-token", tc.regToken)
			regAddr := reg.waitAddr(t, "", 20*time.Second)
			proxy, puts := countingProxy(t, regAddr)
			n := startNode(t, "unregistered", "-registry", proxy, "-token", tc.nodeToken)
			waitFor(t, "three registration attempts", 20*time.Second, func() bool { return puts.Load() >= 3 })
			log := n.out.String()
			if got := countLines(log, tc.nodeLog); got != 1 {
				t.Errorf("after %d attempts the node logged %d lines with %q, want 1:\n%s", puts.Load(), got, tc.nodeLog, log)
			}
			if strings.Contains(log, "registered with the registry") {
				t.Errorf("the node claims to be registered:\n%s", log)
			}
			resp, err := http.Get("http://" + regAddr + "/v1/nodes")
			if err != nil {
				t.Fatal(err)
			}
			var list bytes.Buffer
			_, _ = list.ReadFrom(resp.Body)
			resp.Body.Close()
			if listed := strings.Contains(list.String(), `"unregistered"`); listed != tc.listed {
				t.Errorf("registry lists the node: %v, want %v:\n%s", listed, tc.listed, list.String())
			}
		})
	}
}
