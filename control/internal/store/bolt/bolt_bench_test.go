package bolt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
)

func openStore(b *testing.B) *store.Store {
	bk, err := bolt.Open(b.TempDir(), store.Schema)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bk.Close(context.Background()) })
	return store.New(bk)
}

func users(n, base int) []codec.EndUser {
	us := make([]codec.EndUser, n)
	for i := range us {
		us[i] = codec.EndUser{KeyID: fmt.Sprintf("user-%08d-9f1c2d3e-4b5a-6789-abcd-ef0123456789", base+i),
			Name: fmt.Sprintf("User %d", base+i), Props: []codec.UserProp{{Name: "plan", Value: "pro"}}}
	}
	return us
}

// BenchmarkUpsertEndUsers measures ingestion of new end users in batches of
// 100 (ns/op is per user).
func BenchmarkUpsertEndUsers(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			if err := s.UpsertEndUsers(ctx, "env", users(100, i)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkListEndUsers measures one page of a search over 20,000 end users
// of one environment (the index narrows to the environment; the search
// filters in Go).
func BenchmarkListEndUsers(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	for i := 0; i < 20000; i += 1000 {
		if err := s.UpsertEndUsers(ctx, "env", users(1000, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		us, total, err := s.ListEndUsers(ctx, "env", "user 19", 0, 20)
		if err != nil || total != 1111 || len(us) != 20 {
			b.Fatalf("%v %d %d", err, total, len(us))
		}
	}
}
