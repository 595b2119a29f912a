// Package store is control's persistence layer: the domain model
// (organizations, projects, environments with their publish state and
// outbox, users, members, tokens, sessions, flags, segments, metrics,
// experiments, end users), the domain errors, and the typed Store that every
// other package of control uses.
//
// Two layers. Backend is the I/O boundary: a small document interface (insert,
// get, compare-and-set replace, delete, find by indexed fields) with two
// implementations, store/mongo (MongoDB wire, production) and store/bolt
// (bbolt under a data directory, `make run`). Both honour the same Schema
// (collections and their unique and secondary indexes) and pass the same
// conformance suite (store/storetest). Store is written once on top of a
// Backend and holds all domain logic, so the two backends cannot drift.
//
// Atomicity: the MongoDB-wire server has no multi-document transactions, so
// every operation the Store performs is a sequence of single-document
// operations, each either fully applied or not at all. Optimistic concurrency
// uses the document version: Replace succeeds only when the stored version
// equals the expected one (ErrConflict otherwise). The order of writes that
// make a change publishable is described on Store.BumpEnv.
//
// A Store is safe for concurrent use; the values it returns are owned by the
// caller.
package store
