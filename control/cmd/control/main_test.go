package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"regexp"
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

// TestFirstRunWithPortTakenKeepsThePassword: a first run whose port is
// taken fails before it creates the admin, so the next run still creates it
// and prints its password (instead of saying it was shown).
func TestFirstRunWithPortTakenKeepsThePassword(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	data := t.TempDir()
	noEnv := func(string) string { return "" }
	var out, errs bytes.Buffer
	err = run([]string{"-data", data, "-addr", taken.Addr().String()}, noEnv, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("run on a taken port: %v, want a listen error", err)
	}
	s, err := control.New(control.Config{DataDir: data, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	info, err := s.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !info.FirstRun || info.AdminPassword == "" {
		t.Fatalf("after the failed first run the admin exists already: the password was never shown (%+v)", info)
	}
}

// TestAdminResetPasswordCommand: `control admin reset-password` on the
// store of a stopped instance sets the given (or a random) password, which
// then logs in, and prints it.
func TestAdminResetPasswordCommand(t *testing.T) {
	data := t.TempDir()
	s, err := control.New(control.Config{DataDir: data, AdminPassword: "first-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())

	noEnv := func(string) string { return "" }
	var out, errs bytes.Buffer
	if err := admin([]string{"reset-password", "-data", data}, noEnv, &out, &errs); err != nil {
		t.Fatalf("reset-password: %v\n%s", err, errs.String())
	}
	m := regexp.MustCompile(`new password of admin@switchyard.local: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no new password printed:\n%s", out.String())
	}
	s, err = control.New(control.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	login := func(pw string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"admin@switchyard.local","password":"`+pw+`"}`))
		s.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := login(m[1]); code != 200 {
		t.Errorf("login with the printed password: %d", code)
	}
	if code := login("first-password"); code == 200 {
		t.Errorf("the old password still logs in")
	}
	if err := admin([]string{"reset-password", "-data", data, "-admin-email", "nobody@example.com"}, noEnv, &out, &errs); err == nil {
		t.Errorf("reset-password of an unknown account succeeded")
	}
}
