//go:build integration

package mongo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
)

// BenchmarkUpsertEndUsers measures end-user ingestion on the MongoDB-wire
// server in batches of 100 (ns/op is per user).
func BenchmarkUpsertEndUsers(b *testing.B) {
	bk := open(b)
	s := store.New(bk)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			us := make([]codec.EndUser, 100)
			for j := range us {
				us[j] = codec.EndUser{KeyID: fmt.Sprintf("user-%08d", i+j), Name: "n", Props: []codec.UserProp{{Name: "plan", Value: "pro"}}}
			}
			if err := s.UpsertEndUsers(ctx, "env", us); err != nil {
				b.Fatal(err)
			}
		}
	}
}
