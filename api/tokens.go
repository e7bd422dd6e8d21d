package api

import "sync"

// maxKnownTokens bounds the sign-up tokens a process remembers: 65,536
// hashes of 64 bytes with their ids, a few MiB.
const maxKnownTokens = 1 << 16

// knownTokens remembers the token hash of sign-ups this process has seen
// live, so that a wizard step checks its bearer token without reading the
// sign-up's row: a sign-up's token hash never changes. Whether the sign-up
// is still live is not in it: the step's Update finds out, and the route
// reads the row when the answer says it may have ended (stepAuth). The
// oldest entry goes when it is full.
type knownTokens struct {
	mu     sync.Mutex
	size   int
	hashes map[string]string // sign-up id → token hash
	ring   []string          // ids in the order they came, growing to size
	next   int               // once full, the oldest's place in ring
}

// newKnownTokens remembers at most size hashes; nothing is allocated for
// them before they come.
func newKnownTokens(size int) *knownTokens {
	return &knownTokens{size: size, hashes: map[string]string{}}
}

// hash returns the sign-up's token hash, if known.
func (k *knownTokens) hash(id string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h, ok := k.hashes[id]
	return h, ok
}

// add remembers a live sign-up's token hash.
func (k *knownTokens) add(id, hash string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.hashes[id]; ok {
		return
	}
	if len(k.ring) < k.size {
		k.ring = append(k.ring, id)
	} else {
		delete(k.hashes, k.ring[k.next])
		k.ring[k.next] = id
		k.next = (k.next + 1) % k.size
	}
	k.hashes[id] = hash
}

// forget drops a sign-up that has ended.
func (k *knownTokens) forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.hashes, id)
}
