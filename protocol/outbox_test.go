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

// TestOutboxDrainBatch: what is queued when the writer looks goes out in one
// batch, in order; later pushes in the next.
func TestOutboxDrainBatch(t *testing.T) {
	o := NewOutbox(16)
	for i := range 3 {
		o.Push(Ping{Seq: uint64(i)})
	}
	var batches [][]uint64
	send := func(ms []Message) error {
		var b []uint64
		for _, m := range ms {
			b = append(b, m.(Ping).Seq)
		}
		batches = append(batches, b)
		if len(batches) == 1 {
			o.Push(Ping{Seq: 3})
			o.Close()
		}
		return nil
	}
	if err := o.DrainBatch(send, nil); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[0]) != 3 || batches[0][2] != 2 || len(batches[1]) != 1 || batches[1][0] != 3 {
		t.Errorf("batches %v, want [0 1 2] then [3]", batches)
	}
	fail := errors.New("broken")
	o2 := NewOutbox(4)
	o2.Push(Ping{})
	if err := o2.DrainBatch(func([]Message) error { return fail }, nil); !errors.Is(err, fail) {
		t.Errorf("DrainBatch returned %v, want the send error", err)
	}
}
