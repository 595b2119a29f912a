// Package chartcheck renders the Helm chart of ops/deploy/helm/switchyard
// with the Helm Go library and validates every manifest strictly against the
// Kubernetes API types; its tests also check the compose file, the
// Dockerfile and the systemd units of ops/deploy (see docs/operations.md).
// It is a separate Go module so the main module takes on no Kubernetes
// dependency; `make deploy-check` runs it.
package chartcheck

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// Manifest is one rendered Kubernetes object.
type Manifest struct {
	Template   string // template file it came from
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	YAML []byte
}

// Render renders the chart at dir with values layered over its values.yaml,
// as release "sy" in namespace "switchyard", and splits the output into
// manifests (NOTES.txt and empty documents dropped), sorted by template and
// position.
func Render(dir string, values map[string]any) ([]Manifest, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot load chart: %w", err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("invalid chart: %w", err)
	}
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: "sy", Namespace: "switchyard", IsInstall: true, Revision: 1}, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot compose values: %w", err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	slices.Sort(names)
	var ms []Manifest
	for _, name := range names {
		if path.Ext(name) != ".yaml" {
			continue
		}
		for doc := range strings.SplitSeq(out[name], "\n---") {
			doc = strings.TrimPrefix(strings.TrimSpace(doc), "---")
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			m := Manifest{Template: path.Base(name), YAML: []byte(doc)}
			if err := yaml.Unmarshal(m.YAML, &m); err != nil {
				return nil, fmt.Errorf("%s: not YAML: %w\n%s", name, err, doc)
			}
			ms = append(ms, m)
		}
	}
	return ms, nil
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
