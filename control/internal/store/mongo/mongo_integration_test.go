//go:build integration

package mongo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/mongo"
	"github.com/switchyard/switchyard/control/internal/store/storetest"
)

func open(t testing.TB) *mongo.Backend {
	t.Helper()
	uri := os.Getenv("SY_TEST_MONGO_URI")
	if uri == "" {
		t.Fatal("SY_TEST_MONGO_URI is not set (source ops/services/env.sh)")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	ctx := context.Background()
	b, err := mongo.Open(ctx, uri, "sytest_"+hex.EncodeToString(rnd[:]), store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Database().Drop(ctx)
		_ = b.Close(ctx)
	})
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend { return open(t) })
}

func TestMigrationsRecorded(t *testing.T) {
	b := open(t)
	got, err := b.Applied(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "0001-indexes") {
		t.Fatalf("applied migrations %v", got)
	}
}

// TestIndexesAddedOnReopen: a collection that a later release adds to the
// schema gets its indexes when an existing database is opened again, and
// reopening with nothing missing creates nothing and succeeds.
func TestIndexesAddedOnReopen(t *testing.T) {
	uri := os.Getenv("SY_TEST_MONGO_URI")
	if uri == "" {
		t.Fatal("SY_TEST_MONGO_URI is not set (source ops/services/env.sh)")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	db, ctx := "sytest_"+hex.EncodeToString(rnd[:]), context.Background()
	old := []store.Collection{{Name: "a", Indexes: []store.Index{{Name: "x", Fields: []string{"x"}}}}}
	grown := append(slices.Clone(old), store.Collection{Name: "b", Indexes: []store.Index{{Name: "y", Fields: []string{"y"}, Unique: true}}})
	b1, err := mongo.Open(ctx, uri, db, old)
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Database().Drop(ctx)
	b1.Close(ctx)
	for i := 0; i < 2; i++ {
		b2, err := mongo.Open(ctx, uri, db, grown)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		cur, err := b2.Database().Collection("b").Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Name   string `bson:"name"`
			Unique bool   `bson:"unique"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows {
			found = found || (r.Name == "y" && r.Unique)
		}
		if !found {
			t.Fatalf("reopen %d: collection b has indexes %+v, want unique y", i, rows)
		}
		b2.Close(ctx)
	}
}
