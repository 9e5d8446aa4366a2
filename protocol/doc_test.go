package protocol

import (
	"bytes"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The tests of this file keep PROTOCOL.md honest: its example frame and its
// MAC test vector are checked against the code.

func readProtocolMD(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fencedAfter returns the lines of the first fenced block after marker.
func fencedAfter(t *testing.T, doc, marker string) []string {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("PROTOCOL.md lacks %q", marker)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```")
	if start < 0 {
		t.Fatalf("no fenced block after %q", marker)
	}
	rest = rest[start:]
	rest = rest[strings.Index(rest, "\n")+1:]
	end := strings.Index(rest, "```")
	if end < 0 {
		t.Fatalf("unterminated fenced block after %q", marker)
	}
	return strings.Split(strings.TrimRight(rest[:end], "\n"), "\n")
}

// exampleFrame is the message PROTOCOL.md writes out byte by byte.
var exampleFrame = TileJob{Job: 7, Scene: "9f86d081", Width: 640, Height: 480, SPP: 16, MaxDepth: 8,
	X0: 32, Y0: 0, X1: 64, Y1: 32, Epoch: 1}

func TestProtocolMDExampleFrame(t *testing.T) {
	var frame []byte
	for _, line := range fencedAfter(t, readProtocolMD(t), "<!-- example-frame -->") {
		hexPart, _, _ := strings.Cut(line, "  ")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		frame = append(frame, b...)
	}
	m, err := DecodeFrame(frame)
	if err != nil {
		t.Fatalf("the example frame does not decode: %v", err)
	}
	if !reflect.DeepEqual(m, exampleFrame) {
		t.Fatalf("the example frame decodes to %#v, want %#v", m, exampleFrame)
	}
	if ours := mustFrame(t, exampleFrame); !bytes.Equal(ours, frame) {
		t.Fatalf("AppendFrame gives\n%x\nPROTOCOL.md shows\n%x", ours, frame)
	}
}

// protocolMDVector returns the answer MAC of PROTOCOL.md's test vector.
func protocolMDVector(t *testing.T) string {
	t.Helper()
	for _, line := range fencedAfter(t, readProtocolMD(t), "<!-- mac-vector -->") {
		if v, ok := strings.CutPrefix(line, "answer MAC   = "); ok {
			return v
		}
	}
	t.Fatal("PROTOCOL.md's MAC test vector lacks a line \"answer MAC   = \"")
	return ""
}
