package api

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/control/internal/store"
)

func TestPatternMatches(t *testing.T) {
	f := func(pattern, res string, want bool) {
		t.Helper()
		if got := patternMatches(pattern, res); got != want {
			t.Errorf("patternMatches(%q, %q) = %v, want %v", pattern, res, got, want)
		}
	}
	f("*", "org", true)
	f("*", "project/shop/env/prod", true)
	f("org", "org", true)
	f("org", "project/shop", false)
	f("project/shop", "project/shop", true)
	f("project/shop", "project/shop/env/prod", true) // a project covers its environments
	f("project/shop", "project/shopping", false)
	f("project/shop/env/*", "project/shop/env/prod", true)
	f("project/shop/env/*", "project/shop", false) // an environment pattern does not cover the project
	f("project/*/env/prod", "project/shop/env/prod", true)
	f("project/*/env/prod", "project/shop/env/prod-eu", false)
	f("project/*/env/prod-*", "project/shop/env/prod-eu", true)
	f("project/*", "org", false)
	f("project/*/env/dev", "", false)
}

func TestValidPattern(t *testing.T) {
	for _, ok := range []string{"*", "org", "project/shop", "project/*", "project/shop/env/prod", "project/*/env/prod-*"} {
		if err := validPattern(ok); err != nil {
			t.Errorf("validPattern(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "projects/x", "project", "project/", "project/x/envs/y", "project/x/env", "project/[x", "org/x", "project/x/env/y/z"} {
		if validPattern(bad) == nil {
			t.Errorf("validPattern(%q) accepted", bad)
		}
	}
}

func TestLayerDecision(t *testing.T) {
	prod := "project/shop/env/prod"
	denyProd := store.Statement{Effect: effectDeny, Actions: []string{ActFlagToggle}, Resources: []string{"project/*/env/prod"}}
	allowAll := store.Statement{Effect: effectAllow, Actions: []string{ActFlagToggle, ActAccessManage}, Resources: []string{"*"}}
	f := func(l layer, action, res string, want bool) {
		t.Helper()
		if got := l.can(action, res); got != want {
			t.Errorf("%+v can(%s, %s) = %v, want %v", l, action, res, got, want)
		}
	}
	f(layer{role: store.RoleViewer}, ActRead, prod, true)
	f(layer{role: store.RoleViewer}, ActSecretRead, prod, false)
	f(layer{role: store.RoleEditor}, ActSecretRead, prod, true)
	f(layer{role: store.RoleEditor}, ActFlagToggle, prod, true)
	f(layer{role: store.RoleEditor, stmts: []store.Statement{denyProd}}, ActFlagToggle, prod, false)
	f(layer{role: store.RoleEditor, stmts: []store.Statement{allowAll, denyProd}}, ActFlagToggle, prod, false) // deny wins
	f(layer{role: store.RoleViewer, stmts: []store.Statement{allowAll}}, ActFlagToggle, prod, true)
	f(layer{role: store.RoleViewer, stmts: []store.Statement{allowAll}}, ActAccessManage, "org", false) // from the role only
	f(layer{role: store.RoleOwner, stmts: []store.Statement{{Effect: effectDeny, Actions: []string{"*"}, Resources: []string{"*"}}}}, ActFlagToggle, prod, true)
	f(layer{role: ""}, ActRead, prod, false)

	// Every layer must allow: a token never does what its creator may not.
	ac := access{layers: []layer{{role: store.RoleEditor}, {role: store.RoleEditor, stmts: []store.Statement{denyProd}}}}
	if ac.can(ActFlagToggle, func() string { return prod }) {
		t.Error("token allowed where its creator is denied")
	}
	if !ac.can(ActFlagToggle, func() string { return "project/shop/env/dev" }) {
		t.Error("token refused in dev")
	}
}

// FuzzResourcePattern: any pattern text is accepted or refused without a
// panic, and an accepted one is decided against any resource without one;
// "*" and the resource's own name always match.
func FuzzResourcePattern(f *testing.F) {
	for _, s := range []string{"*", "org", "project/shop", "project/*/env/prod", "project/[a-/env/x", "project/x/env/y/z", "project//env/"} {
		f.Add(s, "project/shop/env/prod")
	}
	f.Fuzz(func(t *testing.T, pattern, res string) {
		if validPattern(pattern) == nil {
			_ = patternMatches(pattern, res)
		}
		if res != "" && !patternMatches("*", res) {
			t.Fatalf("* does not match %q", res)
		}
		if validPattern(res) == nil && res != "" && !strings.ContainsAny(res, `*?[\`) && !patternMatches(res, res) {
			t.Fatalf("%q does not match itself", res)
		}
	})
}
