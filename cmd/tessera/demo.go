package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/node"
	"tessera/render"
)

func init() {
	register(command{name: "demo", summary: "a registry, two nodes and a controller on loopback render the Cornell box", run: runDemo})
}

const demoSynopsis = "demo [-o cornell.png] [-scene FILE] [-width W] [-height H] [-spp N] [-q]"

// demoFiles is the Cornell box the demo renders unless -scene says
// otherwise, built into the binary so that the demo runs from any
// directory: a copy of testdata/scenes/cornell.json and its meshes, with
// their directories (TestDemoSceneIsTestdatas keeps the copy true).
//
//go:embed demo
var demoFiles embed.FS

// demoScene is the Cornell box of demoFiles as a bundle, named as the
// scene file names its meshes.
func demoScene() (*render.Bundle, error) {
	const main = "demo/scenes/cornell.json"
	b := &render.Bundle{Main: path.Base(main), Files: map[string][]byte{}}
	err := fs.WalkDir(demoFiles, "demo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := demoFiles.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path.Dir(main), p)
		if err != nil {
			return err
		}
		b.Files[filepath.ToSlash(rel)] = data
		return nil
	})
	return b, err
}

// runDemo shows the whole system on one machine with no multicast: a
// registry and two nodes on 127.0.0.1, found by the controller through the
// registry, render the Cornell box.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("demo", demoSynopsis, stderr)
	out := flags.String("o", "cornell.png", "output image: .png or .pfm")
	scene := flags.String("scene", "", "scene `file` to render (default: the Cornell box built into tessera)")
	width := flags.Int("width", 0, "image width in pixels (0: the scene file's)")
	height := flags.Int("height", 0, "image height in pixels (0: the scene file's)")
	spp := flags.Int("spp", 0, "samples per pixel (0: the scene file's)")
	quiet := flags.Bool("q", false, "no progress bar, logs only for warnings")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected argument %q (the demo takes flags only)", flags.Arg(0)))
	}
	log, _ := newLogger(stderr, "text")
	if *quiet {
		log = log.Level(zerolog.WarnLevel)
	}

	// A token of its own, made afresh: the demo's frames are sealed and
	// its registrations signed, as a room's with -token are.
	token, err := demoToken()
	if err != nil {
		return err
	}
	reg, regAddr, stopRegistry, err := startDemoRegistry(token)
	if err != nil {
		return err
	}
	defer stopRegistry()
	fmt.Fprintf(stdout, "registry: http://%s/ (status page)\n", regAddr)

	// Two nodes sharing this machine's cores, heartbeating the registry.
	workers := max(1, runtime.NumCPU()/2)
	nctx, stopNodes := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopNodes(); wg.Wait() }()
	for i := 1; i <= 2; i++ {
		name := "demo-node-" + strconv.Itoa(i)
		addr, err := startDemoNode(nctx, &wg, name, workers, regAddr, token, log.With().Str("node", name).Logger())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "node %s: %s, %d workers\n", name, addr, workers)
	}
	if err := waitRegistered(ctx, reg, 2, 5*time.Second); err != nil {
		return err
	}

	job := &renderJob{
		scene:    *scene,
		out:      *out,
		set:      render.Settings{Width: *width, Height: *height, SPP: *spp},
		tile:     32,
		local:    0, // the nodes render, not the controller
		discover: time.Second,
		registry: []string{regAddr},
		token:    token,
		quiet:    *quiet,
		log:      log,
	}
	if job.scene == "" {
		if job.bundle, err = demoScene(); err != nil {
			return fmt.Errorf("the built-in Cornell box: %w", err)
		}
		job.scene = job.bundle.Main
	}
	if err := job.run(ctx, stdout, stderr); err != nil {
		return err
	}
	abs, err := filepath.Abs(*out)
	if err != nil {
		abs = *out
	}
	fmt.Fprintf(stdout, "image: %s\n", abs)
	return nil
}

// demoToken returns a random token for one demo.
func demoToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("a token for the demo: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// startDemoRegistry serves a registry on a free loopback port that takes
// registrations signed with token.
func startDemoRegistry(token string) (*discovery.Registry, string, func(), error) {
	reg, err := discovery.NewRegistry(discovery.RegistryConfig{Token: token})
	if err != nil {
		return nil, "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("registry: %w", err)
	}
	done := make(chan struct{})
	go func() { reg.Serve(l); close(done) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		reg.Shutdown(ctx)
		<-done
	}
	return reg, l.Addr().String(), stop, nil
}

// startDemoNode serves a node on a free loopback port that heartbeats the
// registry until ctx ends; wg waits for it.
func startDemoNode(ctx context.Context, wg *sync.WaitGroup, name string, workers int, registry, token string, log zerolog.Logger) (string, error) {
	svc, err := node.NewService(node.ServiceConfig{
		Node:       node.Config{Name: name, Workers: workers, Software: version, Token: token, Logger: log},
		Registries: []string{registry},
		Grace:      2 * time.Second,
	})
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("node %s: %w", name, err)
	}
	wg.Go(func() { svc.Run(ctx, l) })
	return l.Addr().String(), nil
}

// waitRegistered polls the registry until it lists n nodes.
func waitRegistered(ctx context.Context, reg *discovery.Registry, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for len(reg.Nodes()) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d nodes registered after %v", len(reg.Nodes()), n, timeout)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
