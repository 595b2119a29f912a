//go:build integration && !fakeedge

package compat

import "testing"

// launch will start the real edge (package edge) once it has landed.
func (e *testEdge) launch(t *testing.T, fx *fixture, addr string) {
	t.Helper()
	t.Fatal("compat: the edge server (package edge: edge.New, edge.NewLocalSource) has not landed yet")
}
