package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/scheduler"
)

func init() {
	register(command{name: "node", summary: "a compute node: renders tiles for any controller that asks", run: runNode})
}

const nodeSynopsis = "node [-listen :7701] [-registry host:port] [-workers N] [-name S] [-advertise host:port] [-no-mdns] [-token T]"

// runNode serves tile jobs until ctx ends (SIGINT or SIGTERM), then hands
// its queued tiles back, deregisters and exits.
func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node", nodeSynopsis, stderr)
	listen := fs.String("listen", ":7701", "`address` (host:port) to serve the protocol on")
	registries := fs.String("registry", "", "registries to register with, `host:port[,host:port]` (default: every registry found over mDNS)")
	workers := fs.Int("workers", runtime.NumCPU(), "render goroutines")
	name := fs.String("name", "", "human-readable `name` shown by controllers and registries (default the host name)")
	id := fs.String("id", "", "unique node `id` (default a random one per start)")
	advertise := fs.String("advertise", "", "`host:port` that controllers should dial, as registered (default the listen port; the registry fills in the host it sees)")
	noMDNS := fs.Bool("no-mdns", false, "neither announce over mDNS nor look for registries there")
	token := tokenFlag(fs)
	logFormat := logFlag(fs)
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, how long tiles in progress may take to finish")
	debug := fs.String("debug", "", "serve counters as JSON on `host:port` at /debug/counters (goroutines, open files, jobs)")
	maxConns := fs.Int("max-conns", scheduler.DefaultMaxConns, "open connections at once (MaxConns); more are refused with 'busy'")
	maxScene := fs.Int64("max-scene-bytes", scheduler.DefaultMaxSceneBytes, "bytes of scenes kept in the cache (MaxSceneBytes)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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
	listenHost, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return badInput(fmt.Errorf("-listen %q: want host:port, e.g. :7701", *listen))
	}
	if *advertise != "" {
		if err := discovery.CheckAddr(*advertise); err != nil {
			return badInput(fmt.Errorf("-advertise: %w", err))
		}
	}
	node, err := scheduler.NewNode(scheduler.NodeConfig{
		ID:            *id,
		Name:          *name,
		Workers:       *workers,
		Token:         *token,
		Software:      version,
		MaxConns:      *maxConns,
		MaxSceneBytes: *maxScene,
		Logger:        log,
	})
	if err != nil {
		return badInput(err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(stdout, "tessera node %s (%s) listening on %s, %d workers\n", *id, *name, l.Addr(), *workers)

	serveErr := make(chan error, 1)
	go func() { serveErr <- node.Serve(l) }()

	// Discovery runs until the node stops: announce, heartbeats, and the
	// debug endpoint all end with dctx.
	dctx, stopDiscovery := context.WithCancel(context.Background())
	defer stopDiscovery()
	var wg sync.WaitGroup
	rec := discovery.Record{ID: *id, Name: *name, Addr: advertised(*advertise, listenHost, port), Cores: *workers, Version: version}
	if !*noMDNS {
		announceNode(dctx, &wg, log, rec, port, listenHost)
	}
	switch list := splitList(*registries); {
	case len(list) > 0:
		for _, addr := range list {
			client := &discovery.RegistryClient{Addr: addr, Token: *token, Logger: log.With().Str("registry", addr).Logger()}
			wg.Go(func() {
				if err := client.Heartbeat(dctx, rec); err != nil {
					log.Error().Err(err).Str("registry", addr).Msg("registration ended")
				}
			})
		}
	case !*noMDNS:
		wg.Go(func() {
			cfg := discovery.FinderConfig{Record: rec, Token: *token, Logger: log}
			if err := discovery.FindRegistries(dctx, cfg); err != nil {
				log.Error().Err(err).Msg("looking for registries ended")
			}
		})
	}
	if *debug != "" {
		if err := serveDebug(dctx, &wg, *debug, node, log); err != nil {
			stopDiscovery()
			node.Close()
			wg.Wait()
			return err
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("stopping: handing queued tiles back, deregistering")
	case err := <-serveErr:
		serveErr <- err
		runErr = fmt.Errorf("serving on %s: %w", l.Addr(), err)
	}
	// Deregister and stop announcing while the node finishes its tiles.
	stopDiscovery()
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := node.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Dur("grace", *grace).Msg("tiles in progress were cancelled at the deadline")
	}
	if err := <-serveErr; err != nil && !errors.Is(err, scheduler.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("serving on %s: %w", l.Addr(), err)
	}
	wg.Wait()
	return runErr
}

// advertised is the address a node registers: -advertise when given, else the
// listen host (when it is a specific address) and port; an empty host lets
// the registry fill in the address the registration came from.
func advertised(advertise, listenHost string, port int) string {
	if advertise != "" {
		return advertise
	}
	if ip := net.ParseIP(listenHost); ip != nil && ip.IsUnspecified() {
		listenHost = ""
	}
	return net.JoinHostPort(listenHost, strconv.Itoa(port))
}

// announceNode announces the node over mDNS on the interfaces its listen
// address allows, until ctx ends.
func announceNode(ctx context.Context, wg *sync.WaitGroup, log zerolog.Logger, rec discovery.Record, port int, listenHost string) {
	ifaces, why := announceInterfaces(listenHost)
	if why != "" {
		log.Warn().Str("host", listenHost).Msg("not announcing over mDNS: " + why)
		return
	}
	n := discovery.Node{ID: rec.ID, Name: rec.Name, Cores: rec.Cores, Version: rec.Version}
	wg.Go(func() {
		err := discovery.Announce(ctx, discovery.AnnounceConfig{
			Service:    discovery.NodeService,
			Instance:   rec.ID,
			Port:       port,
			TXT:        discovery.NodeTXT(n, protocol.Version),
			Interfaces: ifaces,
			Logger:     log,
		})
		if err != nil {
			log.Error().Err(err).Msg("mDNS announcement failed")
		}
	})
}

// debugCounters is the JSON of /debug/counters.
type debugCounters struct {
	scheduler.NodeCounters
	OpenFiles int `json:"openFiles"` // entries of /proc/self/fd; -1 where unknown
}

// serveDebug serves the node's counters on addr until ctx ends.
func serveDebug(ctx context.Context, wg *sync.WaitGroup, addr string, node *scheduler.Node, log zerolog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-debug: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/counters", func(w http.ResponseWriter, r *http.Request) {
		c := debugCounters{NodeCounters: node.Counters(), OpenFiles: openFiles()}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	log.Info().Str("addr", l.Addr().String()).Msg("debug counters at http://" + l.Addr().String() + "/debug/counters")
	wg.Go(func() { srv.Serve(l) })
	wg.Go(func() {
		<-ctx.Done()
		srv.Close()
	})
	return nil
}

// openFiles counts this process's open file descriptors (Linux), or -1.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
