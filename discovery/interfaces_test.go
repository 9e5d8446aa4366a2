package discovery

import "testing"

func TestAnnounceInterfaces(t *testing.T) {
	tests := []struct {
		host    string
		ifaces  []string
		refused bool
	}{
		{host: ""},
		{host: "0.0.0.0"},
		{host: "::"},
		{host: "127.0.0.1", refused: true},
		{host: "registry.lan", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			ifaces, why := AnnounceInterfaces(tt.host)
			if (why != "") != tt.refused || len(ifaces) != 0 {
				t.Errorf("AnnounceInterfaces(%q) = %q, %q", tt.host, ifaces, why)
			}
		})
	}
}
