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
