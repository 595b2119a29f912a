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
		sh := &r.shards[i]
		sh.mu.Lock()
		for c := sh.head; c != nil; c = c.next {
			f(c)
		}
		sh.mu.Unlock()
	}
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
