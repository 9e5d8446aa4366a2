package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"tessera/scheduler"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// tileBar shows tiles done of total (of every frame, for an animation, with
// the frame being rendered and the frames done), the ray rate and the time
// left on a terminal. Its methods are called from one goroutine.
type tileBar struct {
	bar *progressbar.ProgressBar
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
	return &tileBar{bar: bar}
}

// update shows the controller's progress: tiles, ray rate and live nodes
// (the bar itself predicts the time left).
func (b *tileBar) update(p scheduler.Progress) {
	if b == nil {
		return
	}
	if s := p.Elapsed.Seconds(); s > 0 {
		frames := ""
		if p.Frame >= 0 || p.Frames > 1 {
			// An animation: the frame being rendered and the frames done;
			// the bar counts the tiles of every frame, so its time left is
			// the range's.
			frames = fmt.Sprintf("frame %d, %d/%d frames, ", p.Frame, p.FramesDone, p.Frames)
			if p.Frame < 0 {
				frames = fmt.Sprintf("%d/%d frames, ", p.FramesDone, p.Frames)
			}
		}
		if p.Pass > 0 {
			// A progressive render: the tiles to go change with every pass.
			frames += fmt.Sprintf("pass %d/%d (%d spp), ", p.Pass, p.Passes, p.SPP)
		}
		b.bar.Describe(fmt.Sprintf("%s%6.1f Mrays/s, %d nodes", frames, float64(p.Rays)/s/1e6, p.Live))
	}
	if p.Total > 0 && int64(p.Total) != b.bar.GetMax64() {
		b.bar.ChangeMax(p.Total)
	}
	b.bar.Set(p.Done)
}

// finish removes the bar.
func (b *tileBar) finish() {
	if b == nil {
		return
	}
	b.bar.Finish()
	b.bar.Exit()
}
