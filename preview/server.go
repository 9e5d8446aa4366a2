package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// MaxSide is the largest image width or height a Server accepts: browsers
// refuse canvases much larger than this.
const MaxSide = 16384

// Defaults for the zero fields of Config.
const (
	DefaultClientQueue  = 256
	DefaultWriteTimeout = 10 * time.Second
)

// ErrBadConfig is returned by New for an unusable Config.
var ErrBadConfig = errors.New("preview: bad config")

// ErrBadTile is returned by Tile for a rectangle outside the image or pixels
// of the wrong length.
var ErrBadTile = errors.New("preview: bad tile")

// Config configures a Server. Width and Height are required; every other
// zero field takes its default.
type Config struct {
	// Width and Height are the size of the image in pixels, 1..MaxSide each.
	Width, Height int

	// Title is shown on the page, for example the scene file's name.
	Title string

	// Logger receives the server's few log lines (a browser connecting or
	// being resynchronised, HTTP errors). The zero Logger discards.
	Logger zerolog.Logger

	// ClientQueue is how many events are buffered for one browser before it
	// is resynchronised instead. Default DefaultClientQueue.
	ClientQueue int

	// WriteTimeout bounds each write to a browser; a browser that takes
	// longer is disconnected (its page reconnects and resyncs). Default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Server is the live preview of one render: an http.Handler that serves the
// page and its event stream, fed by Tile, Nodes, Progress and Finish. Its
// methods are safe for concurrent use.
type Server struct {
	cfg  Config // private copy, defaults filled
	log  zerolog.Logger
	mux  *http.ServeMux
	http *http.Server

	quit     chan struct{} // closed by Shutdown and Close: event streams end
	quitOnce sync.Once

	mu    sync.Mutex
	state state

	qmu      sync.Mutex // guards the work queue (queue.go)
	queue    []func()
	draining bool        // a drain goroutine runs
	qclosed  bool        // Shutdown or Close: queue nothing more
	stopped  atomic.Bool // qclosed, for the drain goroutine between items
	drainers sync.WaitGroup
}

// New returns a Server for an image of cfg.Width by cfg.Height pixels, with
// nothing rendered yet. It errs (ErrBadConfig) for a size out of range or a
// negative queue length or timeout.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Width < 1 || cfg.Width > MaxSide || cfg.Height < 1 || cfg.Height > MaxSide:
		return nil, fmt.Errorf("%w: image size %dx%d: want 1..%d pixels per side", ErrBadConfig, cfg.Width, cfg.Height, MaxSide)
	case cfg.ClientQueue < 0:
		return nil, fmt.Errorf("%w: ClientQueue %d: want >= 0", ErrBadConfig, cfg.ClientQueue)
	case cfg.WriteTimeout < 0:
		return nil, fmt.Errorf("%w: WriteTimeout %v: want >= 0", ErrBadConfig, cfg.WriteTimeout)
	}
	if cfg.ClientQueue == 0 {
		cfg.ClientQueue = DefaultClientQueue
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger.With().Str("component", "preview").Logger(),
		quit: make(chan struct{}),
	}
	s.state = newState(cfg.Width, cfg.Height, cfg.Title)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.handlePage)
	s.mux.Handle("GET /assets/", http.FileServerFS(assetFiles))
	s.mux.HandleFunc("GET /events", s.handleEvents)
	s.mux.HandleFunc("GET /image.png", s.handleImage)
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(logWriter{s.log}, "", 0),
	}
	return s, nil
}

// Bounds returns the image rectangle, (0,0)-(Width,Height).
func (s *Server) Bounds() image.Rectangle {
	return image.Rect(0, 0, s.cfg.Width, s.cfg.Height)
}

// ServeHTTP serves the page, its assets, the event stream and the image.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing from any other origin: the page must work offline.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Serve accepts connections on l until Shutdown or Close, and then returns
// http.ErrServerClosed, as http.Server.Serve does.
func (s *Server) Serve(l net.Listener) error {
	return s.http.Serve(l)
}

// Shutdown drops the updates not yet sent, ends every event stream, stops
// accepting connections and waits for the open ones to finish, or for ctx to end (then it closes them and
// returns ctx's error). A page left open shows that it lost the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.endStreams()
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	return err
}

// Close drops the updates not yet sent, ends every event stream and closes
// the listeners and connections at once. It is safe to call more than once.
func (s *Server) Close() error {
	s.endStreams()
	return s.http.Close()
}

// endStreams stops the feeding queue and ends every event stream.
func (s *Server) endStreams() {
	s.stopQueue()
	s.quitOnce.Do(func() { close(s.quit) })
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(indexHTML))
}

func (s *Server) handleImage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	png := s.state.png
	s.mu.Unlock()
	if png == nil {
		http.Error(w, "the image is not finished yet", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "image.png", time.Time{}, bytes.NewReader(png))
}

// logWriter turns net/http's error log into zerolog lines.
type logWriter struct{ log zerolog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Warn().Msg(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
