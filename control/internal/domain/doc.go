// Package domain holds control's domain operations: creating and updating
// organizations, environments, flags and segments with their defaults and
// validation (validate.go), and recording each change as an audit entry and
// a webhook event (record.go). The REST API (control/internal/api), the
// bootstrap, the FeatBit importer and the scheduler
// (control/internal/workflow) all write through it, so a write is checked
// the same way whichever path it takes.
//
// Every write goes through the store (which records the change in the
// environment's outbox first) and then notifies the publisher. Errors are
// the store's kinds (store.ErrInvalid with a *store.FieldError naming the
// field, ErrConflict, ...); the API maps them to status codes.
//
// A Service is safe for concurrent use. Allowed imports: codec, edge/eval,
// and control's store, audit and webhook packages (deps_test.go).
package domain
