package wsconn

import (
	"sync"
	"sync/atomic"
)

const shards = 32

// registry holds every accepted connection in intrusive lists (two
// pointers inside Conn, no map entry per connection), sharded to keep
// accept and close from contending.
type registry struct {
	next   atomic.Uint32
	shards [shards]struct {
		mu   sync.Mutex
		head *Conn
		n    int
		_    [40]byte // keep shards on separate cache lines
	}
}

func (r *registry) add(c *Conn) {
	i := r.next.Add(1) % shards
	c.shard = uint8(i)
	sh := &r.shards[i]
	sh.mu.Lock()
	c.next = sh.head
	if sh.head != nil {
		sh.head.prev = c
	}
	sh.head = c
	sh.n++
	sh.mu.Unlock()
}

func (r *registry) remove(c *Conn) {
	sh := &r.shards[c.shard]
	sh.mu.Lock()
	if c.prev != nil || sh.head == c {
		if c.prev != nil {
			c.prev.next = c.next
		} else {
			sh.head = c.next
		}
		if c.next != nil {
			c.next.prev = c.prev
		}
		c.prev, c.next = nil, nil
		sh.n--
	}
	sh.mu.Unlock()
}

// each calls f for every connection, holding one shard lock at a time: f
// must not block or call back into the registry.
func (r *registry) each(f func(*Conn)) {
	for i := range r.shards {
		r.eachIn(i, f)
	}
}

// eachIn is each for shard i alone.
func (r *registry) eachIn(i int, f func(*Conn)) {
	sh := &r.shards[i]
	sh.mu.Lock()
	for c := sh.head; c != nil; c = c.next {
		f(c)
	}
	sh.mu.Unlock()
}

// pendingSet holds the few connections whose timeouts need checking every
// sweeper tick: handshakes in progress, frames that started arriving and
// closing handshakes. An entry exists only while a connection is in one of
// those states, so idle connections cost it nothing.
type pendingSet struct {
	mu sync.Mutex
	m  map[*Conn]struct{}
}

func (p *pendingSet) add(c *Conn) {
	p.mu.Lock()
	if p.m == nil {
		p.m = make(map[*Conn]struct{})
	}
	p.m[c] = struct{}{}
	p.mu.Unlock()
}

func (p *pendingSet) remove(c *Conn) {
	p.mu.Lock()
	delete(p.m, c)
	p.mu.Unlock()
}

// each calls f for every pending connection under the set's lock: f must
// not block or call back into the set. pendingSet.mu is a leaf (taken alone,
// under Conn.mu or under a registry shard lock; see edge/LOCKS.md).
func (p *pendingSet) each(f func(*Conn)) {
	p.mu.Lock()
	for c := range p.m {
		f(c)
	}
	p.mu.Unlock()
}

func (p *pendingSet) has(c *Conn) bool {
	p.mu.Lock()
	_, ok := p.m[c]
	p.mu.Unlock()
	return ok
}

func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// count returns the number of open WebSocket connections.
func (r *registry) count() int {
	n := 0
	r.each(func(c *Conn) {
		if c.state.Load() == stOpen {
			n++
		}
	})
	return n
}

// total returns the number of registered connections of any state.
func (r *registry) total() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}
