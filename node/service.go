package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"tessera/discovery"
	"tessera/protocol"
)

// ServiceConfig configures a Service: a Node and the ways controllers find
// it. The zero value of every field but Node is valid.
type ServiceConfig struct {
	// Node configures the executor. Its ID, Name and Workers are also what
	// the service announces and registers; its Token signs registrations;
	// its Logger is the service's.
	Node Config

	// Advertise is the host:port registered when the one a registry sees is
	// not the one controllers should dial (NAT, a second interface).
	// Default: the listener's port, with its host when that is a specific
	// address (an empty host lets the registry fill in the address the
	// registration came from).
	Advertise string
	// MDNS announces the node over mDNS on the interfaces its listener
	// allows and, when Registries is empty, registers with every registry
	// found over mDNS.
	MDNS bool
	// Registries are registries (host:port) the node heartbeats.
	Registries []string
	// Debug, when not empty, is a host:port on which the node's Counters
	// are served as JSON at /debug/counters.
	Debug string
	// Grace bounds how long the tiles in progress may take to finish when
	// the service stops; default 10 s.
	Grace time.Duration
}

// DefaultGrace is ServiceConfig.Grace's default.
const DefaultGrace = 10 * time.Second

// Service is a Node together with its mDNS announcement, its registry
// heartbeats (or the search for registries) and its debug endpoint: what
// `tessera node` runs. Create it with NewService and run it with Run.
type Service struct {
	cfg  ServiceConfig
	node *Node
}

// NewService checks cfg and builds the Node; errors wrap ErrBadConfig.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("%w: ServiceConfig.Grace is %v, want >= 0", ErrBadConfig, cfg.Grace)
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Advertise != "" {
		if err := discovery.CheckAddr(cfg.Advertise); err != nil {
			return nil, fmt.Errorf("%w: ServiceConfig.Advertise: %w", ErrBadConfig, err)
		}
	}
	n, err := New(cfg.Node)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, node: n}, nil
}

// Node returns the service's node (its ID, its Counters).
func (s *Service) Node() *Node { return s.node }

// Run serves l until ctx ends, then stops gracefully: it deregisters and
// stops announcing, hands the queued tiles back to their controllers, lets
// the tiles in progress finish for up to Grace, and closes l. It returns nil
// after a stop by ctx, or the error that ended serving. Run may be called
// once.
func (s *Service) Run(ctx context.Context, l net.Listener) error {
	log := s.node.log
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.node.Serve(l) }()

	// Discovery runs until the node stops: announce, heartbeats and the
	// debug endpoint all end with dctx.
	dctx, stopDiscovery := context.WithCancel(context.Background())
	defer stopDiscovery()
	var wg sync.WaitGroup
	host, port := listenHostPort(l)
	rec := discovery.Record{ID: s.node.cfg.ID, Name: s.node.cfg.Name, Addr: advertised(s.cfg.Advertise, host, port), Cores: s.node.cfg.Workers, Version: s.node.cfg.Software}
	if s.cfg.MDNS {
		s.announce(dctx, &wg, rec, host, port)
	}
	switch {
	case len(s.cfg.Registries) > 0:
		for _, addr := range s.cfg.Registries {
			client := &discovery.RegistryClient{Addr: addr, Token: s.node.cfg.Token, Logger: log.With().Str("registry", addr).Logger()}
			wg.Go(func() {
				if err := client.Heartbeat(dctx, rec); err != nil {
					log.Error().Err(err).Str("registry", addr).Msg("registration ended")
				}
			})
		}
	case s.cfg.MDNS:
		wg.Go(func() {
			cfg := discovery.FinderConfig{Record: rec, Token: s.node.cfg.Token, Logger: log}
			if err := discovery.FindRegistries(dctx, cfg); err != nil {
				log.Error().Err(err).Msg("looking for registries ended")
			}
		})
	}
	if s.cfg.Debug != "" {
		if err := s.serveDebug(dctx, &wg); err != nil {
			stopDiscovery()
			s.node.Close()
			<-serveErr
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
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	if err := s.node.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Dur("grace", s.cfg.Grace).Msg("tiles in progress were cancelled at the deadline")
	}
	if err := <-serveErr; err != nil && !errors.Is(err, ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("serving on %s: %w", l.Addr(), err)
	}
	wg.Wait()
	return runErr
}

// listenHostPort is the host and port a listener serves on; the host is ""
// when it is not a TCP listener.
func listenHostPort(l net.Listener) (string, int) {
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return "", 0
	}
	host := ""
	if a.IP != nil && !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return host, a.Port
}

// advertised is the address a node registers: advertise when given, else the
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

// announce announces the node over mDNS on the interfaces its listen
// address allows, until ctx ends.
func (s *Service) announce(ctx context.Context, wg *sync.WaitGroup, rec discovery.Record, host string, port int) {
	log := s.node.log
	ifaces, why := discovery.AnnounceInterfaces(host)
	if why != "" {
		log.Warn().Str("host", host).Msg("not announcing over mDNS: " + why)
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

// serveDebug serves the node's counters on cfg.Debug until ctx ends.
func (s *Service) serveDebug(ctx context.Context, wg *sync.WaitGroup) error {
	l, err := net.Listen("tcp", s.cfg.Debug)
	if err != nil {
		return fmt.Errorf("debug endpoint: listen on %s: %w", s.cfg.Debug, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/counters", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.node.Counters())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	s.node.log.Info().Str("addr", l.Addr().String()).Msg("debug counters at http://" + l.Addr().String() + "/debug/counters")
	wg.Go(func() { srv.Serve(l) })
	wg.Go(func() {
		<-ctx.Done()
		srv.Close()
	})
	return nil
}
