package protocol

import (
	"errors"
	"testing"
)

func TestOutboxBoundedInOrderAndClosed(t *testing.T) {
	o := NewOutbox(3)
	for i := range 3 {
		if !o.Push(Ping{Seq: uint64(i)}) {
			t.Fatalf("push %d refused below the limit", i)
		}
	}
	if o.Push(Ping{Seq: 9}) {
		t.Fatal("push over the limit accepted")
	}
	var got []uint64
	send := func(m Message) error {
		got = append(got, m.(Ping).Seq)
		if len(got) == 3 {
			o.Close() // the writer drains what is queued, then stops
		}
		return nil
	}
	if err := o.Drain(send, nil); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("sent %v, want 0 1 2 in order", got)
	}
	if o.Push(Ping{}) {
		t.Error("push after Close accepted")
	}
}

func TestOutboxDrainStops(t *testing.T) {
	o := NewOutbox(4)
	stop := make(chan struct{})
	close(stop)
	if err := o.Drain(func(Message) error { return nil }, stop); err != nil {
		t.Fatalf("Drain with stop closed: %v", err)
	}
	broken := errors.New("broken pipe")
	o.Push(Ping{})
	if err := o.Drain(func(Message) error { return broken }, nil); !errors.Is(err, broken) {
		t.Fatalf("Drain with a failing send: %v, want the send's error", err)
	}
}
