package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"tessera/discovery"
	"tessera/node/guest"
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
	// Watch decides the node's state while it runs: paused-schedule outside
	// Watch.Schedule, paused-busy while other programs use the PC
	// (Watch.Yield). Its zero value keeps the node ready. It logs to the
	// node's Logger.
	Watch guest.WatchConfig
	// OwnProcess says the service is what its process is for (tessera
	// node), so Run may change the process: it raises the process's
	// out-of-memory score (Linux: the kernel kills the node before the
	// person's programs), prepares it for Node.Priority
	// (guest.SetProcessPriority) and keeps GOMAXPROCS above the lowered
	// threads (see guest.Go). tessera demo runs two services in its own
	// process and leaves it false.
	OwnProcess bool
}

// DefaultGrace is ServiceConfig.Grace's default.
const DefaultGrace = 10 * time.Second

// Service is a Node together with its mDNS announcement, its registry
// heartbeats (or the search for registries) and its debug endpoint: what
// `tessera node` runs. Create it with NewService and run it with Run.
type Service struct {
	cfg   ServiceConfig
	node  *Node
	watch *guest.Watcher // nil: always ready
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
	s := &Service{cfg: cfg, node: n}
	if w := cfg.Watch; w.Yield.Share > 0 || !w.Schedule.IsZero() {
		w.Logger = n.log
		if s.watch, err = guest.NewWatcher(w); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
		}
	}
	return s, nil
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
	if s.cfg.OwnProcess {
		s.prepareProcess()
	}
	// Discovery runs until the node stops: the watch, announce, heartbeats
	// and the debug endpoint all end with dctx.
	dctx, stopDiscovery := context.WithCancel(context.Background())
	defer stopDiscovery()
	var wg sync.WaitGroup
	host, port := listenHostPort(l)
	rec := discovery.Record{ID: s.node.cfg.ID, Name: s.node.cfg.Name, Addr: advertised(s.cfg.Advertise, host, port),
		Cores: s.node.cfg.Workers, Version: s.node.cfg.Software, State: protocol.StateReady}
	live := discovery.NewLiveRecord(rec)
	txt := make(chan []string, 1) // the latest TXT records for the announcement
	if s.watch != nil {
		// The first state is set before the node serves: outside its
		// schedule it never takes a tile.
		first := make(chan struct{})
		wg.Go(func() {
			once := sync.OnceFunc(func() { close(first) })
			s.watch.Run(dctx, func(c guest.Change) {
				s.node.SetState(c.State, c.Why)
				if live.SetState(c.State) {
					r, _ := live.Load()
					latest(txt, nodeTXT(r))
				}
				once()
			})
			once()
		})
		<-first
		rec, _ = live.Load()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.node.Serve(l) }()

	if s.cfg.MDNS {
		s.announce(dctx, &wg, rec, host, port, txt)
	}
	switch {
	case len(s.cfg.Registries) > 0:
		for _, addr := range s.cfg.Registries {
			client := &discovery.RegistryClient{Addr: addr, Token: s.node.cfg.Token, Logger: log.With().Str("registry", addr).Logger()}
			wg.Go(func() {
				if err := client.HeartbeatLive(dctx, live); err != nil {
					log.Error().Err(err).Str("registry", addr).Msg("registration ended")
				}
			})
		}
	case s.cfg.MDNS:
		wg.Go(func() {
			cfg := discovery.FinderConfig{Live: live, Token: s.node.cfg.Token, Logger: log}
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

// latest puts v in ch, a channel of capacity 1 with one sender, replacing
// a value not yet taken: the receiver gets the newest.
func latest[T any](ch chan T, v T) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}

func nodeTXT(r discovery.Record) []string {
	return discovery.NodeTXT(discovery.Node{ID: r.ID, Name: r.Name, Cores: r.Cores, Version: r.Version, State: r.State}, protocol.Version)
}

// prepareProcess makes the process a polite guest: the kernel's first
// victim when memory runs out, ready for lowered threads. What it cannot
// do it logs, and the node runs anyway.
func (s *Service) prepareProcess() {
	log := s.node.log
	if adj, err := guest.RaiseOOMScore(); err != nil && !errors.Is(err, guest.ErrUnsupported) {
		log.Warn().Err(err).Msg("cannot raise the out-of-memory score: the kernel may pick another program first")
	} else if err == nil {
		log.Debug().Int("oomScoreAdj", adj).Msg("first in line for the out-of-memory killer")
	}
	p := s.node.cfg.Priority
	if p == guest.PriorityNormal {
		return
	}
	rep, err := guest.SetProcessPriority(p)
	switch {
	case err != nil:
		log.Warn().Err(err).Str("priority", p.String()).Msg("cannot prepare the process for the priority")
	case rep.Warning != "":
		log.Warn().Str("priority", p.String()).Msg(rep.Warning)
	case rep.Done != "":
		log.Info().Str("priority", p.String()).Msg(rep.Done)
	}
	// Every lowered thread holds a P while the kernel makes it wait:
	// leave one for the network (guest.Go).
	if lowered := s.node.cfg.Workers + concurrentLoads; runtime.GOMAXPROCS(0) <= lowered {
		runtime.GOMAXPROCS(lowered + 1)
	}
}

// announce announces the node over mDNS on the interfaces its listen
// address allows, until ctx ends, with each TXT update from txt.
func (s *Service) announce(ctx context.Context, wg *sync.WaitGroup, rec discovery.Record, host string, port int, txt <-chan []string) {
	log := s.node.log
	ifaces, why := discovery.AnnounceInterfaces(host)
	if why != "" {
		log.Warn().Str("host", host).Msg("not announcing over mDNS: " + why)
		return
	}
	wg.Go(func() {
		err := discovery.Announce(ctx, discovery.AnnounceConfig{
			Service:    discovery.NodeService,
			Instance:   rec.ID,
			Port:       port,
			TXT:        nodeTXT(rec),
			Interfaces: ifaces,
			Updates:    txt,
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
