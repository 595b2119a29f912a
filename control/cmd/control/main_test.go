package main

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control"
)

// TestSecurityBannerPrintsSecretsOnlyOnFirstRun: a restart's log (collected
// by any log shipper) must not carry the SDK secrets or a password; the first
// run, or -print-secrets, shows them.
func TestSecurityBannerPrintsSecretsOnlyOnFirstRun(t *testing.T) {
	info := &control.BootstrapInfo{AdminEmail: "a@example.com",
		Envs: []control.EnvInfo{{ID: "e1", Name: "dev", ServerSecret: "SERVER-SECRET-VALUE", ClientSecret: "CLIENT-SECRET-VALUE"}}}
	var b strings.Builder
	printInfo(&b, "127.0.0.1:8080", info, false)
	if strings.Contains(b.String(), "SECRET-VALUE") {
		t.Fatalf("restart banner prints secrets:\n%s", b.String())
	}
	for _, tc := range []struct {
		first, flag bool
	}{{true, false}, {false, true}} {
		b.Reset()
		info.FirstRun = tc.first
		printInfo(&b, "127.0.0.1:8080", info, tc.flag)
		if !strings.Contains(b.String(), "SERVER-SECRET-VALUE") || !strings.Contains(b.String(), "CLIENT-SECRET-VALUE") {
			t.Fatalf("first=%v print-secrets=%v: no secrets:\n%s", tc.first, tc.flag, b.String())
		}
	}
}
