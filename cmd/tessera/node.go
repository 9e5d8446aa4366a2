package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/node/guest"
)

func init() {
	register(command{name: "node", summary: "a compute node: renders tiles for any controller that asks", run: runNode})
}

const nodeSynopsis = "node [-listen :7701] [-registry host:port] [-workers N] [-name S] [-advertise host:port] [-no-mdns] [-token T]\n" +
	"            [-priority idle|low|normal] [-schedule \"mon-fri 18:00-08:00, sat-sun\"] [-yield 25%] [-pause-grace 2s]"

// runNode serves tile jobs until ctx ends (SIGINT or SIGTERM), then hands
// its queued tiles back, deregisters and exits.
func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node", nodeSynopsis, stderr)
	listen := fs.String("listen", ":7701", "`address` (host:port) to serve the protocol on")
	registries := fs.String("registry", "", "registries to register with, `host:port[,host:port]` (default: every registry found over mDNS)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "render goroutines; the default is the CPUs this process may use, a container's or systemd slice's quota included")
	name := fs.String("name", "", "human-readable `name` shown by controllers and registries (default the host name)")
	id := fs.String("id", "", "unique node `id` (default a random one per start)")
	advertise := fs.String("advertise", "", "`host:port` that controllers should dial, as registered (default the listen port; the registry fills in the host it sees)")
	noMDNS := fs.Bool("no-mdns", false, "neither announce over mDNS nor look for registries there")
	token := tokenFlag(fs)
	logFormat := logFlag(fs)
	grace := fs.Duration("grace", node.DefaultGrace, "on SIGINT/SIGTERM, how long tiles in progress may take to finish")
	debug := fs.String("debug", "", "serve counters as JSON on `host:port` at /debug/counters (goroutines, open files, jobs)")
	maxConns := fs.Int("max-conns", node.DefaultMaxConns, "open connections at once (MaxConns); more are refused with 'busy'")
	maxScene := fs.Int64("max-scene-bytes", node.DefaultMaxSceneBytes, "bytes of scenes kept in the cache (MaxSceneBytes)")
	priority := fs.String("priority", "idle", "CPU priority of the rendering threads: `level` idle (only CPU time nobody else wants: SCHED_IDLE and nice 19 on Linux, THREAD_PRIORITY_IDLE on Windows), low (nice 10) or normal")
	schedule := fs.String("schedule", "", "work only in these local-time `windows`, e.g. \"mon-fri 18:00-08:00, sat-sun\"; outside them the node is paused (default: always)")
	yield := fs.String("yield", "", "pause while other programs use more than this `share` of the CPU, e.g. 25% (default: never)")
	yieldAfter := fs.Duration("yield-after", guest.DefaultYieldAfter, "with -yield: how long the share must be exceeded before the node pauses")
	yieldQuiet := fs.Duration("yield-quiet", guest.DefaultYieldQuiet, "with -yield: how long the CPU must stay below the share before the node resumes")
	pauseGrace := fs.Duration("pause-grace", node.DefaultPauseGrace, "when the node pauses, how long tiles in progress may run on before they are handed back")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected argument %q (the node takes flags only)", fs.Arg(0)))
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return badInput(fmt.Errorf("-workers %d: want at least 1", *workers))
	}
	if *id == "" {
		*id = discovery.NewID()
	} else if err := discovery.CheckID(*id); err != nil {
		return badInput(fmt.Errorf("-id: %w", err))
	}
	if *name == "" {
		*name, _ = os.Hostname()
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return badInput(fmt.Errorf("-listen %q: want host:port, e.g. :7701", *listen))
	}
	if *advertise != "" {
		if err := discovery.CheckAddr(*advertise); err != nil {
			return badInput(fmt.Errorf("-advertise: %w", err))
		}
	}
	if *grace < 0 {
		return badInput(fmt.Errorf("-grace %v: want 0 or more", *grace))
	}
	prio, err := guest.ParsePriority(*priority)
	if err != nil {
		return badInput(fmt.Errorf("-priority: %w", err))
	}
	var watch guest.WatchConfig
	if given["schedule"] {
		if watch.Schedule, err = guest.ParseSchedule(*schedule); err != nil {
			return badInput(fmt.Errorf("-schedule: %w", err))
		}
	}
	switch {
	case given["yield"]:
		if watch.Yield.Share, err = guest.ParseShare(*yield); err != nil {
			return badInput(fmt.Errorf("-yield %w", err))
		}
		if *yieldAfter <= 0 || *yieldQuiet <= 0 {
			return badInput(fmt.Errorf("-yield-after %v, -yield-quiet %v: want more than 0", *yieldAfter, *yieldQuiet))
		}
		watch.Yield.After, watch.Yield.Quiet = *yieldAfter, *yieldQuiet
	case given["yield-after"] || given["yield-quiet"]:
		return badInput(errors.New("-yield-after and -yield-quiet need -yield"))
	}
	if *pauseGrace <= 0 {
		return badInput(fmt.Errorf("-pause-grace %v: want more than 0", *pauseGrace))
	}
	svc, err := node.NewService(node.ServiceConfig{
		Node: node.Config{
			ID:            *id,
			Name:          *name,
			Workers:       *workers,
			Token:         *token,
			Software:      version,
			MaxConns:      *maxConns,
			MaxSceneBytes: *maxScene,
			Priority:      prio,
			PauseGrace:    *pauseGrace,
			Logger:        log,
		},
		Watch:      watch,
		OwnProcess: true,
		Advertise:  *advertise,
		MDNS:       !*noMDNS,
		Registries: splitList(*registries),
		Debug:      *debug,
		Grace:      max(*grace, time.Nanosecond), // 0: no time to finish
	})
	if err != nil {
		if errors.Is(err, guest.ErrUnsupported) {
			return badInput(fmt.Errorf("-yield: %w", err))
		}
		if errors.Is(err, node.ErrBadConfig) {
			return badInput(err)
		}
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "tessera node %s (%s) listening on %s, %d workers\n", *id, *name, l.Addr(), *workers)
	return svc.Run(ctx, l)
}
