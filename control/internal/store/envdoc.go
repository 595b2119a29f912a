package store

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file envdoc.go -o envdoc_gen.go

import "github.com/switchyard/switchyard/codec"

// The environment document is the one document every write of an
// environment's flags and segments changes (BumpEnv), and the API reads it
// on every request scoped to the environment: it is stored as MessagePack
// (encode in store.go), not JSON, because decoding and re-encoding its
// outbox with encoding/json was a fifth of control's CPU under sustained
// writes (docs/benchmarks.md, "Sustained writes"). Documents written as
// JSON before are still read (decode).
//
// The limits refuse a corrupt document's array headers before allocating
// (a batch entry names up to an environment's flags).
//msgp:limit arrays:1000000 maps:100

// Env is an environment with its SDK secrets and its publish state: Version
// is incremented on every change of its flags, segments or secrets;
// PublishedVersion is the Version whose snapshot and change events were
// delivered; Outbox holds the changes not yet produced. Rev is the document's
// compare-and-set revision (renames, publish bookkeeping), distinct from
// Version. Stamp is the last item timestamp (UpdatedAt, Unix ms) given in the
// environment: every bump gives each entry max(now, Stamp+1), so item
// timestamps increase strictly in EnvVersion (publish) order even when the
// clock goes back, and an SDK asking for "items newer than t" gets every
// change published after the one stamped t.
type Env struct {
	ID               string            `msg:"id" json:"id"`
	OrgID            string            `msg:"orgId" json:"orgId"`
	ProjectID        string            `msg:"projectId" json:"projectId"`
	Name             string            `msg:"name" json:"name"`
	Key              string            `msg:"key" json:"key"`
	Description      string            `msg:"description" json:"description"`
	Secrets          []codec.EnvSecret `msg:"secrets" json:"secrets"`
	Version          int64             `msg:"version" json:"version"`
	PublishedVersion int64             `msg:"publishedVersion" json:"publishedVersion"`
	Stamp            int64             `msg:"stamp,omitempty" json:"stamp,omitempty"`
	Outbox           []OutboxEntry     `msg:"outbox" json:"outbox,omitempty"`
	CreatedAt        int64             `msg:"createdAt" json:"createdAt"`
	UpdatedAt        int64             `msg:"updatedAt" json:"updatedAt"`
	Rev              int64             `msg:"rev" json:"rev"`
	Deleted          bool              `msg:"deleted,omitempty" json:"deleted,omitempty"`

	pending int // outbox entries when read by GetEnvMeta (Outbox nil)
}

// Pending returns the number of changes not yet published (the outbox's
// entries), also for an environment read by GetEnvMeta.
func (e *Env) Pending() int { return max(len(e.Outbox), e.pending) }

// OutboxEntry is one change waiting to be produced as a codec.ChangeEvent.
// EnvVersion is the environment version the change was assigned.
// ItemVersion is the version the item has once the write landed (for a
// deletion: the tombstone's version; the write landed when the item is
// gone); 0 means nothing to wait for. Payload is set for deletions only (the
// last state of the deleted item, msgp), since the item cannot be read back
// later. Stamp is the item's UpdatedAt at ItemVersion: assigned with
// EnvVersion in the environment's compare-and-set, it increases with
// EnvVersion (see Env.Stamp).
type OutboxEntry struct {
	EnvVersion    int64    `msg:"envVersion" json:"envVersion"`
	ItemVersion   int64    `msg:"itemVersion,omitempty" json:"itemVersion,omitempty"`
	Stamp         int64    `msg:"stamp,omitempty" json:"stamp,omitempty"`
	Kind          string   `msg:"kind" json:"kind"`
	Op            string   `msg:"op" json:"op"`
	ID            string   `msg:"id" json:"id"`
	At            int64    `msg:"at" json:"at"`
	Payload       []byte   `msg:"payload,omitempty" json:"payload,omitempty"`
	AffectedFlags []string `msg:"affectedFlags,omitempty" json:"affectedFlags,omitempty"`
	// RequestID is the id of the API request that made the change
	// (WithRequestID), carried into the change event.
	RequestID string `msg:"requestId,omitempty" json:"requestId,omitempty"`
	// Items are the flags of a KindBatch entry (BatchFlags), each with the
	// version its write produces; ID is then the batch's id.
	Items []BatchRef `msg:"items,omitempty" json:"items,omitempty"`

	// encode, when set, builds Payload from the stamp given in the bump
	// (deletions: the tombstone carries its own UpdatedAt).
	encode func(stamp int64) []byte
}

// BatchRef is one flag of a KindBatch outbox entry.
type BatchRef struct {
	ID          string `msg:"id" json:"id"`
	ItemVersion int64  `msg:"v" json:"v"`
}

func (*Env) storedAsMsgp() {}
