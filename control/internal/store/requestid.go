package store

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the API request being
// served; BumpEnv records it in the outbox entries it appends, and the
// publisher copies it into the change events (codec.ChangeEvent.RequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id WithRequestID put in ctx ("" if none).
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
