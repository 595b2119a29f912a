// Package coderefs finds where a project's flag keys are used in a source
// tree: whole-token matches of the keys (and configured aliases, such as
// constants that hold a key), with a few lines of context, respecting
// .gitignore files and skipping binary, generated, vendored and oversized
// files. The scan reads files on several goroutines; the returned references
// are sorted by file and line. The scanner command (control/cmd/coderefs)
// uploads them to the control plane.
package coderefs
