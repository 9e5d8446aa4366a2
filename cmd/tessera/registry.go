package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tessera/discovery"
)

func init() {
	register(command{name: "registry", summary: "the fixed node directory for networks where multicast does not reach", run: runRegistry})
}

const registrySynopsis = "registry [-listen :7700] [-ttl 15s] [-token T] [-no-mdns] [-max-nodes N] [-log text|json]"

// runRegistry serves the registry until ctx ends (SIGINT or SIGTERM).
func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("registry", registrySynopsis, stderr)
	listen := fs.String("listen", ":7700", "`address` (host:port) to serve the API and the status page on")
	ttl := fs.Duration("ttl", discovery.DefaultTTL, "how long a node stays listed after its last heartbeat; nodes heartbeat every ttl/3")
	token := tokenFlag(fs)
	logFormat := logFlag(fs)
	noMDNS := fs.Bool("no-mdns", false, "do not announce the registry over mDNS ("+discovery.RegistryService+")")
	maxNodes := fs.Int("max-nodes", discovery.DefaultMaxNodes, "the most nodes listed at once; registrations of new nodes past it get 503")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected argument %q (the registry takes flags only)", fs.Arg(0)))
	}
	if *ttl < time.Second {
		return badInput(fmt.Errorf("-ttl %v: want at least 1s", *ttl))
	}
	if *maxNodes < 1 {
		return badInput(fmt.Errorf("-max-nodes %d: want at least 1", *maxNodes))
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return badInput(fmt.Errorf("-listen %q: want host:port, e.g. :7700", *listen))
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}

	reg, err := discovery.NewRegistry(discovery.RegistryConfig{TTL: *ttl, Token: *token, MaxNodes: *maxNodes, Logger: log})
	if err != nil {
		return badInput(err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(stdout, "tessera registry listening on %s (ttl %v, max %d nodes, signed writes: %v)\n", l.Addr(), *ttl, *maxNodes, *token != "")

	serveErr := make(chan error, 1)
	go func() { serveErr <- reg.Serve(l) }()

	actx, stopAnnounce := context.WithCancel(ctx)
	defer stopAnnounce()
	var wg sync.WaitGroup
	if !*noMDNS {
		ifaces, why := discovery.AnnounceInterfaces(host)
		if why != "" {
			log.Warn().Str("listen", *listen).Msg("not announcing over mDNS: " + why)
		} else {
			instance := "registry-" + discovery.NewID()
			wg.Go(func() {
				err := discovery.Announce(actx, discovery.AnnounceConfig{
					Service:    discovery.RegistryService,
					Instance:   instance,
					Port:       port,
					TXT:        []string{"id=" + instance, "version=" + version},
					Interfaces: ifaces,
					Logger:     log,
				})
				if err != nil {
					log.Error().Err(err).Msg("mDNS announcement failed")
				}
			})
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-serveErr:
		serveErr <- err
		runErr = fmt.Errorf("serving on %s: %w", l.Addr(), err)
	}
	stopAnnounce()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	if err := <-serveErr; err != nil && !errors.Is(err, discovery.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("serving on %s: %w", l.Addr(), err)
	}
	wg.Wait()
	return runErr
}
