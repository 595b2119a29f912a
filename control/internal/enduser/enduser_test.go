package enduser

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/control/internal/store/bolt"
)

// TestSecurityEndUserGrowthBounded: a client SDK (its secret is public)
// sends the same end user again and again with new property names and
// huge values; the stored end user keeps at most store.MaxEndUserProps
// properties with cut values, and a batch is cut to MaxBatchUsers.
func TestSecurityEndUserGrowthBounded(t *testing.T) {
	b, err := bolt.Open(t.TempDir(), store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	st := store.New(b)
	ctx := context.Background()
	huge := strings.Repeat("v", 1<<20)
	for round := range 50 {
		var props []codec.UserProp
		for i := range 20 {
			props = append(props, codec.UserProp{Name: fmt.Sprintf("p%d-%d", round, i) + strings.Repeat("n", 1000), Value: huge})
		}
		if err := Ingest(ctx, st, &codec.EndUserBatch{EnvID: "e", Users: []codec.EndUser{{KeyID: "u1" + strings.Repeat("k", 5000), Props: props}}}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := st.GetEndUser(ctx, "e", "u1"+strings.Repeat("k", MaxKeyBytes-2))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Props) > store.MaxEndUserProps {
		t.Fatalf("%d properties kept", len(u.Props))
	}
	for _, p := range u.Props {
		if len(p.Name) > MaxPropName || len(p.Value) > MaxPropValue {
			t.Fatalf("property of %d/%d bytes kept", len(p.Name), len(p.Value))
		}
	}
	many := &codec.EndUserBatch{EnvID: "e", Users: make([]codec.EndUser, MaxBatchUsers+500)}
	for i := range many.Users {
		many.Users[i].KeyID = fmt.Sprint("m", i)
	}
	bound(many)
	if len(many.Users) != MaxBatchUsers {
		t.Fatalf("batch of %d users kept", len(many.Users))
	}
}
