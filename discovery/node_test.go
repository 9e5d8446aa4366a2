package discovery

import "testing"

func TestNodeKeyAndSourceText(t *testing.T) {
	if k := (Node{ID: "n1", Addr: "10.0.0.1:7701"}).Key(); k != "n1" {
		t.Errorf("Key of a node with an id = %q, want its id", k)
	}
	k := (Node{Addr: "10.0.0.9:7701", Source: SourceFlag}).Key()
	if k != "addr:10.0.0.9:7701" || CheckID(k) == nil {
		t.Errorf("Key of a node known by address = %q: want addr:HOST:PORT, never a valid id", k)
	}
	for s := SourceUnknown; s <= SourceLocal; s++ {
		b, err := s.MarshalText()
		var back Source
		if err != nil || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("source %d: text %q, read back as %d", s, b, back)
		}
	}
	var s Source
	if err := s.UnmarshalText([]byte("carrier pigeon")); err == nil {
		t.Error("an unknown source read back without an error")
	}
}
