package change

import (
	"fmt"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// MaxBatchPayload bounds one batch event's payload, as control's publisher
// does (publish.MaxBatchRecord): below Kafka's default 1 MiB record.
const MaxBatchPayload = 900 << 10

// GrowBatches adds n realistic flags to the snapshot (AddFlags) and
// returns them as KindBatch events (one environment version, payloads of
// at most MaxBatchPayload bytes, in order), as control publishes a bulk
// write: a snapshot event of a large environment exceeds a Kafka record.
func (e *Env) GrowBatches(n int) ([]*codec.ChangeEvent, error) {
	before := len(e.Snapshot.Flags)
	e.AddFlags(n)
	added := e.Snapshot.Flags[before:]
	now := time.Now().UnixMilli()
	var out []*codec.ChangeEvent
	part := &codec.EnvSnapshot{EnvID: e.ID, Version: e.envVersion}
	size := part.Msgsize()
	flush := func() error {
		if len(part.Flags) == 0 {
			return nil
		}
		p, err := part.MarshalMsg(nil)
		if err != nil {
			return fmt.Errorf("encode batch: %w", err)
		}
		out = append(out, &codec.ChangeEvent{EnvID: e.ID, Kind: codec.KindBatch, Op: codec.OpUpsert, ID: e.ID,
			Version: e.envVersion, EnvVersion: e.envVersion, At: now, Payload: p})
		part = &codec.EnvSnapshot{EnvID: e.ID, Version: e.envVersion}
		size = part.Msgsize()
		return nil
	}
	for i := range added {
		fs := added[i].Msgsize()
		if size+fs > MaxBatchPayload {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		part.Flags = append(part.Flags, added[i])
		size += fs
	}
	return out, flush()
}
