package store

import (
	"context"
	"strings"
)

// Doc is one stored document as a Backend sees it: an id, a version used for
// compare-and-set, the indexed fields (strings, compared byte-wise) and the
// opaque body (JSON of the domain type).
type Doc struct {
	ID      string
	Version int64
	Fields  map[string]string
	Data    []byte
}

// Query selects documents of one collection. Eq fields must all match
// exactly. Search, when set, keeps documents where any of SearchFields
// contains Search (the typed layer stores those fields lower-cased and passes
// a lower-cased Search). In fields must equal one of their values. Sort is a
// field name (byte-wise order; "" = by id), Desc reverses
// it. Limit 0 means no limit. Find returns the page and the total number of
// matching documents.
type Query struct {
	Eq           map[string]string
	In           map[string][]string // field value must be one of the values
	Search       string
	SearchFields []string
	Sort         string
	Desc         bool
	Offset       int
	Limit        int
	// IDPrefix, when set, keeps only documents whose id starts with it (ids
	// are ordered, so this is a range read; collections whose ids begin
	// with the environment id are read this way).
	IDPrefix string
	// NoTotal tells Find that the caller does not use the total of a page
	// (a listing capped by a limit that creation enforces): Find may then
	// return the offset plus the number read instead of counting every
	// match (one round trip less on MongoDB).
	NoTotal bool
}

// Backend is the document store under Store. Implementations: store/mongo
// and store/bolt. Errors: ErrNotFound, ErrConflict (version mismatch),
// ErrDuplicate (unique index or id exists), others wrapped with context.
type Backend interface {
	// Insert stores a new document. ErrDuplicate if the id or a unique
	// index key exists.
	Insert(ctx context.Context, coll string, d *Doc) error
	// Get returns the document with the id or ErrNotFound.
	Get(ctx context.Context, coll, id string) (*Doc, error)
	// Replace overwrites the document d.ID if its stored version equals
	// expect (ErrConflict otherwise, ErrNotFound if it does not exist). The
	// stored version becomes d.Version.
	Replace(ctx context.Context, coll string, d *Doc, expect int64) error
	// Delete removes the document; expect < 0 deletes any version.
	Delete(ctx context.Context, coll, id string, expect int64) error
	// Modify reads each listed document (nil when it does not exist), calls
	// fn, and stores what fn returns (nil: leave it unchanged); the returned
	// document's Version is written as is. Each document changes atomically
	// and never over a concurrent change (fn is called again with the new
	// state). store/bolt applies the whole set in one transaction; store/mongo
	// document by document (the new ones 1,000 at a time with InsertMany,
	// so fn may be called for later ids before earlier ones are written).
	// An error from fn aborts (bolt: nothing written).
	Modify(ctx context.Context, coll string, ids []string, fn func(id string, old *Doc) (*Doc, error)) error
	// Find returns the matching documents and their total count.
	Find(ctx context.Context, coll string, q Query) ([]*Doc, int, error)
	// Scan calls fn for every document matching q's Eq, In and Search
	// (Sort, Offset and Limit are ignored), in no particular order, holding
	// at most one batch of documents in memory: the way to read a
	// collection too large for a page. An error from fn or the end of ctx
	// stops it and is returned.
	Scan(ctx context.Context, coll string, q Query, fn func(*Doc) error) error
	// Close releases the backend.
	Close(ctx context.Context) error
}

// Index is a secondary index over the listed fields, in order.
type Index struct {
	Name   string
	Fields []string
	Unique bool
	// Lookup marks a unique index the store reads single documents by
	// (a Query whose Eq names exactly its fields) on the path of a write.
	// A backend whose server cannot answer such a read from the index
	// keeps a key document per indexed document instead (store/mongo on
	// FerretDB, whose only indexed read is by _id).
	Lookup bool
}

// Collection names a collection and its indexes.
type Collection struct {
	Name    string
	Indexes []Index
}

// Collection names (docs/architecture.md lists them).
const (
	CollOrgs        = "organizations"
	CollProjects    = "projects"
	CollEnvs        = "environments"
	CollUsers       = "users"
	CollMembers     = "members"
	CollTokens      = "access_tokens"
	CollSessions    = "sessions"
	CollFlags       = "flags"
	CollSegments    = "segments"
	CollMetrics     = "metrics"
	CollExperiments = "experiments"
	CollEndUsers    = "end_users"
)

// Schema is the collections and indexes both backends create.
var Schema = []Collection{
	{Name: CollOrgs},
	{Name: CollProjects, Indexes: []Index{{Name: "org", Fields: []string{"orgId"}}}},
	{Name: CollEnvs, Indexes: []Index{
		{Name: "project", Fields: []string{"projectId"}},
		{Name: "dirty", Fields: []string{"dirty"}},
	}},
	{Name: CollUsers, Indexes: []Index{{Name: "email", Fields: []string{"email"}, Unique: true}}},
	{Name: CollMembers, Indexes: []Index{
		{Name: "org", Fields: []string{"orgId"}},
		{Name: "user", Fields: []string{"userId"}},
	}},
	{Name: CollTokens, Indexes: []Index{
		{Name: "hash", Fields: []string{"hash"}, Unique: true},
		{Name: "org", Fields: []string{"orgId"}},
	}},
	{Name: CollSessions, Indexes: []Index{{Name: "user", Fields: []string{"userId"}}}},
	{Name: CollFlags, Indexes: []Index{
		{Name: "env_key", Fields: []string{"envId", "key"}, Unique: true, Lookup: true},
	}},
	{Name: CollSegments, Indexes: []Index{
		{Name: "env_key", Fields: []string{"envId", "key"}, Unique: true, Lookup: true},
	}},
	{Name: CollMetrics, Indexes: []Index{{Name: "env", Fields: []string{"envId"}}}},
	{Name: CollExperiments, Indexes: []Index{{Name: "env", Fields: []string{"envId"}}}},
	{Name: CollEndUsers, Indexes: []Index{
		{Name: "env_key", Fields: []string{"envId", "keyId"}, Unique: true},
		{Name: "env_name", Fields: []string{"envId", "name"}},
	}},
	{Name: CollCodeRefs, Indexes: []Index{{Name: "project", Fields: []string{"projectId"}}}},
}

// Matches reports whether a document's fields satisfy q's filters (Eq, In,
// Search). Backends that filter in Go use it so both agree on semantics.
func Matches(f map[string]string, q *Query) bool {
	for k, v := range q.Eq {
		if f[k] != v {
			return false
		}
	}
	for k, vs := range q.In {
		ok := false
		for _, v := range vs {
			if f[k] == v {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if q.Search != "" {
		ok := false
		for _, k := range q.SearchFields {
			if strings.Contains(f[k], q.Search) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
