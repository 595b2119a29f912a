package hub

import (
	"bytes"
	"sync"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/edge/internal/metrics"
)

// The census: what each environment's streaming connections are, kept as
// counters (one per SDK type × SDK name × secret) updated when a session
// opens or closes, so a heartbeat costs O(kinds), never O(connections).
// It feeds the delivery reports (DeliveredFunc, Census) that control turns
// into delivery receipts and its live view of connected SDKs.

// DeliveredFunc is told, after a change was written to every streaming
// session of its environment, the environment's new version and how many
// server and client sessions hold it. It must not block.
type DeliveredFunc func(d codec.EnvDelivery)

// censusKey is one kind of connection of an environment.
type censusKey struct {
	kind   uint8  // metrics.ConnServer or metrics.ConnClient
	sdk    string // sdkName of the User-Agent
	secret string // the stored secret value (shared with the State)
}

const (
	// maxSDKNames caps the distinct SDK names an edge remembers; later ones
	// are counted as "other" (the User-Agent is the client's to choose).
	maxSDKNames = 256
	// maxSDKName caps the length of one name.
	maxSDKName = 64
)

// sdkNames interns SDK names so sessions share one string per name.
type sdkNames struct {
	mu    sync.Mutex
	names map[string]string
}

// name returns the SDK a User-Agent names: "" when there is none,
// "browser" for a web browser, else its first product token
// ("NodeJS-Server-SDK/1.2.3"), at most maxSDKName bytes of printable ASCII.
func (n *sdkNames) name(ua []byte) string {
	ua = bytes.TrimSpace(ua)
	if len(ua) == 0 {
		return ""
	}
	if bytes.HasPrefix(ua, []byte("Mozilla/")) {
		return "browser"
	}
	if i := bytes.IndexByte(ua, ' '); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > maxSDKName {
		ua = ua[:maxSDKName]
	}
	for _, c := range ua {
		if c < 0x21 || c > 0x7e {
			return "other"
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.names[string(ua)]; ok {
		return s
	}
	if len(n.names) >= maxSDKNames {
		return "other"
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	s := string(ua)
	n.names[s] = s
	return s
}

// count adds d (+1 or -1) to s's kind in its environment. e.mu is held.
func (e *Env) count(s *Session, d int32) {
	k := censusKey{kind: s.kind, sdk: s.sdk, secret: s.secret}
	n := e.census[k] + d
	if n <= 0 {
		delete(e.census, k)
		return
	}
	if e.census == nil {
		e.census = map[censusKey]int32{}
	}
	e.census[k] = n
}

// Census returns, for every loaded environment with streaming sessions,
// its version, its session counts and their kinds (the heartbeat).
func (h *Hub) Census() []codec.EnvDelivery {
	h.mu.RLock()
	envs := make([]*Env, 0, len(h.envs))
	for _, e := range h.envs {
		envs = append(envs, e)
	}
	h.mu.RUnlock()
	var out []codec.EnvDelivery
	for _, e := range envs {
		e.mu.Lock()
		st := e.st.Load()
		if st == nil || len(e.server)+len(e.client) == 0 {
			e.mu.Unlock()
			continue
		}
		d := codec.EnvDelivery{EnvID: e.ID, EnvVersion: st.Version, Server: int32(len(e.server)), Client: int32(len(e.client)),
			SDKs: make([]codec.SDKCount, 0, len(e.census))}
		for k, n := range e.census {
			typ := codec.SecretServer
			if k.kind == metrics.ConnClient {
				typ = codec.SecretClient
			}
			var exp int64
			for i := range st.Secrets {
				if st.Secrets[i].Value == k.secret {
					exp = st.Secrets[i].ExpiresAt
				}
			}
			d.SDKs = append(d.SDKs, codec.SDKCount{Type: typ, SDK: k.sdk, Expires: exp, Count: n})
		}
		e.mu.Unlock()
		out = append(out, d)
	}
	return out
}
