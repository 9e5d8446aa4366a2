package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// tileBar shows tiles done of total, the ray rate and the time left on a
// terminal. Its methods are called from one goroutine.
type tileBar struct {
	bar   *progressbar.ProgressBar
	start time.Time
	rays  uint64
}

// newTileBar returns a bar on w, or nil when w is not a terminal or quiet is set.
// A nil *tileBar ignores every call.
func newTileBar(w io.Writer, total int, quiet bool) *tileBar {
	if quiet || !isTerminal(w) {
		return nil
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("tiles"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	return &tileBar{bar: bar, start: time.Now()}
}

// tile records a finished tile that cast rays.
func (b *tileBar) tile(rays uint64) {
	if b == nil {
		return
	}
	b.rays += rays
	if s := time.Since(b.start).Seconds(); s > 0 {
		b.bar.Describe(fmt.Sprintf("%6.1f Mrays/s", float64(b.rays)/s/1e6))
	}
	b.bar.Add(1)
}

// finish removes the bar.
func (b *tileBar) finish() {
	if b == nil {
		return
	}
	b.bar.Finish()
	b.bar.Exit()
}
