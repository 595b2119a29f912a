//go:build integration && !fakeedge

package compat

import "testing"

// startEdge will start the real edge (package edge) once it has landed.
func startEdge(t *testing.T, fx *fixture) *testEdge {
	t.Helper()
	t.Fatal("compat: the edge server (package edge: edge.New, edge.NewLocalSource) has not landed yet")
	return nil
}
