package featbit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/switchyard/switchyard/control/internal/featbit"
	"github.com/switchyard/switchyard/control/internal/store"
)

// FuzzDecode feeds arbitrary bytes to the FeatBit-format decoder: it must
// never panic, must refuse with an error wrapping ErrFormat, and what it
// accepts must survive re-encoding (ServerSync) and an Import dry run into
// an empty environment without a panic.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	ex := randomExport(r, "fz", 3, 2, randomUsers(r, 5))
	sync, _ := ex.ServerSync()
	remote, _ := json.Marshal(ex)
	f.Add(sync)
	if real, err := os.ReadFile("testdata/latest-all.json"); err == nil {
		f.Add(real)
	} else {
		f.Fatal(err)
	}
	f.Add(remote)
	f.Add([]byte(`{"featureFlags":[{"key":"a","variations":[{"id":"v","value":"x"}],"fallthrough":{"variations":[{"id":"v","rollout":[0,1]}]}}]}`))
	f.Add([]byte(`{"messageType":"data-sync","data":{"eventType":"full","featureFlags":null,"segments":[{"id":"s","name":"n"}]}}`))
	f.Add([]byte(`{"featureFlags":[{"key":"a","rules":[{"conditions":[{"property":"User is in segment","value":"[]"}]}]}]}`))
	// The store is opened in the fuzz function, on the first accepted
	// input: opened before f.Fuzz, the workers ran 7 inputs in 9 s here
	// (not investigated further), now thousands.
	dir := f.TempDir()
	var st *store.Store
	var envID string
	var closeFn func()
	f.Cleanup(func() {
		if closeFn != nil {
			closeFn()
		}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := featbit.DecodeBytes(b, featbit.Limits{MaxBytes: 1 << 20, MaxFlags: 200, MaxSegments: 200})
		if err != nil {
			if !errors.Is(err, featbit.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		again, err := ex.ServerSync()
		if err != nil {
			t.Fatal(err)
		}
		ex2, err := featbit.DecodeBytes(again, featbit.Limits{MaxBytes: 4 << 20, MaxFlags: 200, MaxSegments: 200})
		if err != nil {
			t.Fatalf("re-encoded export refused: %v", err)
		}
		a, _ := json.Marshal(ex)
		c, _ := json.Marshal(ex2)
		if !bytes.Equal(a, c) {
			t.Fatalf("decode is not stable:\n%s\n%s", a, c)
		}
		if st == nil {
			var err error
			if st, envID, closeFn, err = openEnv(dir); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := featbit.Import(context.Background(), st, envID, ex, true); err != nil && !errors.Is(err, featbit.ErrInvalid) {
			t.Fatalf("dry run: %v", err)
		}
	})
}
