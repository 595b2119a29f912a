package chartcheck

import (
	"context"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "../compose.yaml"

func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile}, cli.WithEnv(env), cli.WithWorkingDirectory(".."))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestCompose loads the compose file with the compose-spec loader (schema
// validation, interpolation, references) and checks the topology.
func TestCompose(t *testing.T) {
	p, err := loadCompose(t, "SY_ADMIN_PASSWORD=test")
	if err != nil {
		t.Fatalf("compose file does not load: %v", err)
	}
	want := []string{"analytics", "clickhouse", "control", "edge-1", "edge-2", "kafka", "mongo", "redis"}
	if got := strings.Join(p.ServiceNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("services %s, want %s", got, strings.Join(want, ","))
	}
	targets := dockerfileTargets(t)
	for _, s := range p.Services {
		if s.Build == nil { // third-party image: its own healthcheck here
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s: no healthcheck", s.Name)
			}
			if len(s.Volumes) == 0 {
				t.Errorf("%s: no volume for its data", s.Name)
			}
			continue
		}
		// ours: HEALTHCHECK, USER and VOLUME come from the Dockerfile target
		if !targets[s.Build.Target] {
			t.Errorf("%s: build target %q is not a stage of the Dockerfile", s.Name, s.Build.Target)
		}
		if !s.ReadOnly || len(s.CapDrop) == 0 {
			t.Errorf("%s: want read_only and cap_drop", s.Name)
		}
		for k := range s.Environment {
			if err := knownSetting(k); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
		}
		for dep := range s.DependsOn {
			if s.DependsOn[dep].Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: depends on %s without waiting for it to be healthy", s.Name, dep)
			}
		}
	}
	for _, name := range []string{"edge-1", "edge-2"} {
		e := p.Services[name]
		if e.Ulimits["nofile"] == nil || e.Ulimits["nofile"].Soft < 100_000 {
			t.Errorf("%s: open-files limit not raised (one descriptor per connection)", name)
		}
		if *e.Environment["SY_EDGE_REDIS_ADDR"] != "redis:6379" || *e.Environment["SY_EDGE_KAFKA_BROKERS"] != "kafka:9092" {
			t.Errorf("%s: not pointed at the compose Redis and Kafka", name)
		}
	}
	if pw := p.Services["control"].Environment["SY_CONTROL_ADMIN_PASSWORD"]; pw == nil || *pw != "test" {
		t.Error("control does not get SY_ADMIN_PASSWORD")
	}
}

// TestComposeRequiresAdminPassword: no default admin password ships.
func TestComposeRequiresAdminPassword(t *testing.T) {
	_, err := loadCompose(t)
	if err == nil || !strings.Contains(err.Error(), "SY_ADMIN_PASSWORD") {
		t.Errorf("loaded without SY_ADMIN_PASSWORD: %v", err)
	}
}
