package node

import "container/list"

// sceneState is where a cached scene is in its life.
type sceneState uint8

const (
	sceneLoading sceneState = iota
	sceneReady
	sceneFailed
)

// sceneEntry is one scene by content hash. Its fields are guarded by Node.mu.
type sceneEntry struct {
	hash    string
	size    int64 // bytes of its files
	state   sceneState
	err     error // when failed
	scene   renderer
	waiters []*job        // jobs that arrived while it was loading
	elem    *list.Element // in the LRU list while cached and ready
}

// sceneCache holds loaded scenes by hash, bounded in bytes of scene files,
// evicting the least recently used. Connections hold on to the entries of
// the scenes they sent, so eviction never breaks a render in progress; it
// only means that the next connection sends (and the node loads) the scene
// again. Guarded by Node.mu.
type sceneCache struct {
	max    int64
	bytes  int64
	lru    list.List // of *sceneEntry, most recent first; ready entries only
	byHash map[string]*sceneEntry
}

func newSceneCache(max int64) sceneCache {
	return sceneCache{max: max, byHash: make(map[string]*sceneEntry)}
}

// get returns the entry for hash (loading or ready), marking it used.
func (sc *sceneCache) get(hash string) *sceneEntry {
	e := sc.byHash[hash]
	if e != nil && e.elem != nil {
		sc.lru.MoveToFront(e.elem)
	}
	return e
}

// loaded records that e is ready, evicting older scenes over the bound (e
// itself too when it alone is over the bound).
func (sc *sceneCache) loaded(e *sceneEntry) {
	if sc.byHash[e.hash] != e {
		return
	}
	e.elem = sc.lru.PushFront(e)
	sc.bytes += e.size
	for sc.bytes > sc.max && sc.lru.Len() > 0 {
		sc.remove(sc.lru.Back().Value.(*sceneEntry))
	}
}

// remove forgets e.
func (sc *sceneCache) remove(e *sceneEntry) {
	if sc.byHash[e.hash] == e {
		delete(sc.byHash, e.hash)
	}
	if e.elem != nil {
		sc.lru.Remove(e.elem)
		e.elem = nil
		sc.bytes -= e.size
	}
}
