package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeSettings spawns this test binary as a node that behaves as mode says.
func fakeSettings(t *testing.T, mode string) *settings {
	t.Helper()
	t.Setenv(fakeNodeEnv, mode)
	t.Setenv("GORACE", "atexit_sleep_ms=0") // a -race binary otherwise waits 1 s before it exits
	s, err := resolve(Config{Executable: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	s.stopGrace = 300 * time.Millisecond
	s.startTimeout = 10 * time.Second
	return s
}

func TestSpawnAndStop(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		startErr string // substring of spawn's error; "" when it starts
		stopErr  string // substring of stop's error; "" when it stops cleanly
	}{
		{name: "stops on SIGINT", mode: "ok"},
		{name: "ignores SIGINT and is killed", mode: "stubborn", stopErr: "did not stop cleanly"},
		{name: "never listens", mode: "silent", startErr: "did not listen within"},
		{name: "exits at once", mode: "fail", startErr: "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeSettings(t, tt.mode)
			if tt.mode == "silent" {
				s.startTimeout = 300 * time.Millisecond
			}
			p, err := s.spawn(context.Background(), spawnOpts{id: "fake-1", workers: 1})
			if tt.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.startErr) {
					t.Fatalf("spawn: got error %v, want one containing %q", err, tt.startErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("spawn: %v", err)
			}
			if p.addr != "127.0.0.1:7701" {
				t.Errorf("addr %q, want the one the node printed, 127.0.0.1:7701", p.addr)
			}
			err = p.stop()
			if tt.stopErr == "" && err != nil {
				t.Fatalf("stop: %v", err)
			}
			if tt.stopErr != "" && (err == nil || !strings.Contains(err.Error(), tt.stopErr)) {
				t.Fatalf("stop: got error %v, want one containing %q", err, tt.stopErr)
			}
			select {
			case <-p.exited:
			default:
				t.Fatal("stop returned before the process exited")
			}
			if err := p.stop(); (err == nil) != (tt.stopErr == "") {
				t.Errorf("second stop: %v", err)
			}
		})
	}
}

// TestSpawnStopsWithContext: a cancelled suite (Ctrl-C) stops its nodes
// even before anyone calls stop.
func TestSpawnStopsWithContext(t *testing.T) {
	s := fakeSettings(t, "ok")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := s.spawn(ctx, spawnOpts{id: "fake-2", workers: 1})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.stop()
		t.Fatal("the node did not exit within 10 s of the context's end")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("the node exited with %v, want a clean exit after SIGINT", p.cmd.ProcessState)
	}
}

func TestNodeSetStopAll(t *testing.T) {
	s := fakeSettings(t, "ok")
	var ns nodeSet
	for _, id := range []string{"fake-a", "fake-b", "fake-c"} {
		p, err := s.spawn(context.Background(), spawnOpts{id: id, workers: 1})
		if err != nil {
			ns.stopAll()
			t.Fatal(err)
		}
		ns.add(p)
	}
	procs := append([]*nodeProc(nil), ns.procs...)
	if err := ns.stopAll(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		default:
			t.Errorf("node %s still running after stopAll", p.id)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := newTailBuffer(8)
	for _, s := range []string{"abc", "defgh", "ijk"} {
		b.Write([]byte(s))
	}
	if got := b.String(); got != "defghijk" {
		t.Errorf("got %q, want the last 8 bytes %q", got, "defghijk")
	}
}
