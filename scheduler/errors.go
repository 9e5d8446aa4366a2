package scheduler

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrBadConfig wraps every error NewController returns for an invalid
	// Config.
	ErrBadConfig = errors.New("scheduler: bad config")
	// ErrNoNodes is returned by Run when tiles are left and no node can
	// render them (no remote node reachable and no in-process node).
	ErrNoNodes = errors.New("scheduler: no node left to render")
	// ErrInterrupted is returned by Run when its context is cancelled.
	ErrInterrupted = errors.New("scheduler: render interrupted")
	// ErrAlreadyRun is returned by a second call of Controller.Run.
	ErrAlreadyRun = errors.New("scheduler: controller already ran")
)
