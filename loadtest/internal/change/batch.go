package change

import (
	"fmt"
	"time"

	"github.com/switchyard/switchyard/codec"
)

// MaxBatchPayload bounds one batch event's payload, as control's publisher
// does (codec.MaxBatchRecord): below Kafka's default 1 MiB record.
const MaxBatchPayload = codec.MaxBatchRecord

// GrowBatches adds n realistic flags to the snapshot (AddFlags) and
// returns them as KindBatch events (one environment version, payloads of
// at most MaxBatchPayload bytes, in order), as control publishes a bulk
// write: a snapshot event of a large environment exceeds a Kafka record.
func (e *Env) GrowBatches(n int) ([]*codec.ChangeEvent, error) {
	before := len(e.Snapshot.Flags)
	e.AddFlags(n)
	ps, err := codec.BatchPayloads(e.ID, e.envVersion, e.Snapshot.Flags[before:], MaxBatchPayload)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	now := time.Now().UnixMilli()
	out := make([]*codec.ChangeEvent, len(ps))
	for i, p := range ps {
		out[i] = &codec.ChangeEvent{EnvID: e.ID, Kind: codec.KindBatch, Op: codec.OpUpsert, ID: e.ID,
			Version: e.envVersion, EnvVersion: e.envVersion, At: now, Payload: p}
	}
	return out, nil
}
