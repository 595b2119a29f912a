package change

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/codec/secret"
)

func TestNewEnvAndPush(t *testing.T) {
	e, err := NewEnv(20)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Snapshot.Flags) != 21 || len(e.Snapshot.Secrets) != 2 {
		t.Fatalf("flags %d secrets %d", len(e.Snapshot.Flags), len(e.Snapshot.Secrets))
	}
	for _, s := range []string{e.ServerSecret, e.ClientSecret} {
		if id, err := secret.EnvID(s); err != nil || id != e.ID {
			t.Fatalf("secret %q → %q %v, want %s", s, id, err, e.ID)
		}
	}
	var prev int64 = 1
	for seq := 1; seq <= 3; seq++ {
		ev, err := e.PushEvent(seq, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var f codec.Flag
		if _, err := f.UnmarshalMsg(ev.Payload); err != nil {
			t.Fatal(err)
		}
		if ev.Version != prev+1 || f.Version != ev.Version || f.Key != PushFlagKey || ev.Kind != codec.KindFlag {
			t.Fatalf("event %+v flag %+v", ev, f)
		}
		prev = ev.Version
		if !strings.HasPrefix(f.Variations[0].Value, "lt~") || f.Fallthrough.Variations[0].ID != f.Variations[0].ID {
			t.Fatalf("variation %+v", f.Variations)
		}
	}
}
