package node

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"tessera/render"
)

// TestProtocolDocumentSaysWhatTheNodeDoes checks what PROTOCOL.md says of
// the node against the code: the scene hash's test vector and the node's
// default limits, so that the document and the node cannot drift apart.
func TestProtocolDocumentSaysWhatTheNodeDoes(t *testing.T) {
	data, err := os.ReadFile("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	m := regexp.MustCompile("<!-- scene-hash -->\n```\nh = ([0-9a-f]{64})\n```").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("PROTOCOL.md has no scene-hash test vector")
	}
	b := &render.Bundle{Main: "box.json", Files: map[string][]byte{"box.json": []byte("{}"), "../meshes/box.obj": []byte("v 0 0 0\n")}}
	if got := b.Hash(); got != m[1] {
		t.Errorf("scene hash of the vector: %s, PROTOCOL.md says %s", got, m[1])
	}
	var cfg Config
	cfg = cfg.withDefaults()
	for _, want := range []struct {
		text string
		ok   bool
	}{
		{"1,048,576 by default", cfg.Limits.MaxTilePixels == 1_048_576},
		{"32,768, 65,536, 1,024 by default", cfg.Limits.MaxImageSide == 32_768 && cfg.Limits.MaxSPP == 65_536 && cfg.Limits.MaxDepth == 1_024},
		{"nothing has arrived for 60 s", cfg.IdleTimeout == 60*time.Second},
		{"Go node after 5 s", cfg.HandshakeTimeout == 5*time.Second},
		{"| connections (`MaxConns`), handshaking ones included | 64 |", cfg.MaxConns == 64},
		{"(`MaxInFlight`) | 256 |", cfg.MaxInFlight == 256},
	} {
		if !strings.Contains(doc, want.text) {
			t.Errorf("PROTOCOL.md no longer says %q", want.text)
		} else if !want.ok {
			t.Errorf("PROTOCOL.md says %q, the node's defaults differ: %+v", want.text, cfg)
		}
	}
}
