package bench

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeNodeEnv makes the test binary act as a node process for the spawn
// tests: its value is the behaviour (see fakeNode).
const fakeNodeEnv = "TESSERA_BENCH_FAKE_NODE"

// TestMain runs the fake node when asked to, and otherwise the tests, which
// must leave no goroutine behind.
func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeNodeEnv); mode != "" {
		os.Exit(fakeNode(mode))
	}
	goleak.VerifyTestMain(m)
}

// fakeNode behaves as a spawned node would, or as a broken one:
//
//	ok        prints its address like tessera node, exits 0 on SIGINT
//	stubborn  prints its address, ignores SIGINT (it must be killed)
//	silent    never prints an address; exits 0 on SIGINT
//	fail      exits with status 3 at once, saying why on stderr
func fakeNode(mode string) int {
	const line = "tessera node fake (fake) listening on 127.0.0.1:7701, 1 workers"
	switch mode {
	case "ok", "silent":
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		if mode == "ok" {
			fmt.Println(line)
		}
		<-sig
		return 0
	case "stubborn":
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		fmt.Println(line)
		time.Sleep(time.Hour) // the test kills it long before
		return 0
	}
	fmt.Fprintln(os.Stderr, "fake node: cannot listen: address already in use")
	return 3
}
