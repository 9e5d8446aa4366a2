// Command tessera renders one image on every computer in a room.
//
// It is one binary with six subcommands: registry, node, render, bench,
// demo and sim (simulated nodes for benchmarks). Run `tessera help` for the
// list and `tessera CMD -h` for the flags of one. The work is done by the
// packages render, protocol, discovery, scheduler (the controller),
// scheduler/sim, node, preview and bench; this command only parses flags,
// handles signals and wires them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is the software version reported in hellos, registry records and
// bench output. Release builds set it with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands in the order `tessera help` lists them. Filled by init functions
// in the files of each subcommand.
var commands []command

func register(c command) { commands = append(commands, c) }

// exitError carries an exit status: 2 for bad usage or bad input, 1 for a
// failure at run time.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as bad usage or bad input: exit status 2.
func badInput(err error) error { return &exitError{code: 2, err: err} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) > 1 {
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "tessera %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(stderr, "tessera: unknown command %q (run 'tessera help')\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "tessera %s: a distributed path tracer for the computers of one room\n\nUsage: tessera COMMAND [flags]\n\nCommands:\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-9s %s\n", "help", "this text; 'tessera help CMD' or 'tessera CMD -h' explains CMD's flags")
	fmt.Fprint(w, "\nExit status: 0 success, 1 failure at run time, 2 bad usage or bad input.\n-token may also come from the environment variable TESSERA_TOKEN.\n")
}

// newFlagSet returns a flag set for a subcommand whose errors come back to
// run (exit status 2) instead of exiting, and whose -h prints to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tessera %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a parse error into exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return badInput(err)
	}
	return nil
}
