package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
	"github.com/switchyard/switchyard/edge/internal/wsconn"
)

// BenchmarkFanOutPerConn: one flag change applied to an environment of
// 10,000 flags and pushed to 1,000 or 10,000 synced server connections, or
// 1,000 client connections (each re-evaluating the flag for its user), over
// in-memory connections: the edge's own work per connection, without the
// kernel's write. Reports wall ns per connection reached (ns/conn).
func BenchmarkFanOutPerConn(b *testing.B) {
	for _, c := range []struct {
		typ   string
		conns int
	}{{codec.SecretServer, 1000}, {codec.SecretServer, 10000}, {codec.SecretClient, 1000}} {
		typ, conns := c.typ, c.conns
		b.Run(fmt.Sprintf("%s/conns=%d", typ, conns), func(b *testing.B) {
			fx := newFixture(b, 10000)
			var mcs []*wsconn.MemConn
			for range conns {
				c, mc := fx.attach(b, typ, "")
				if typ == codec.SecretClient {
					mc.Input(clientFrame(fmt.Sprintf(`{"messageType":"data-sync","data":{"timestamp":9999999999999,"user":{"keyId":"%s","name":"n","customizedProperties":[{"name":"country","value":"FR"}]}}}`, secret.NewGUID())))
				} else {
					mc.Input(clientFrame(`{"messageType":"data-sync","data":{"timestamp":9999999999999}}`))
				}
				fx.srv.HandleInput(c)
				mc.DiscardOutput()
				mcs = append(mcs, mc)
			}
			f := fx.snap.Flags[0] // every change flips the result for every user
			evs := make([]*codec.ChangeEvent, b.N)
			for i := range evs {
				f.Version++
				f.IsEnabled = !f.IsEnabled
				p, _ := f.MarshalMsg(nil)
				evs[i] = &codec.ChangeEvent{EnvID: fx.snap.EnvID, Kind: codec.KindFlag, Op: codec.OpUpsert, ID: f.ID, Version: f.Version, Payload: p}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var spent time.Duration
			for i := range b.N {
				t0 := time.Now()
				fx.hub.Apply(evs[i])
				spent += time.Since(t0)
				b.StopTimer()
				for _, mc := range mcs {
					if len(mc.TakeOutput()) == 0 {
						b.Fatal("a connection got no push")
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N)/float64(conns), "ns/conn")
		})
	}
}
