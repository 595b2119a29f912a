package chartcheck

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

const dockerfile = "../Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

// stage is a FROM and what follows it.
type stage struct {
	image, name string
	ins         []instruction
}

func parseDockerfile(t *testing.T) (args map[string]string, stages []*stage) {
	t.Helper()
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	args = map[string]string{}
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		full := cur.String()
		cur.Reset()
		cmd, rest, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest), line: start}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			s := &stage{}
			for j := 0; j < len(f); j++ {
				switch {
				case strings.HasPrefix(f[j], "--"):
				case strings.EqualFold(f[j], "AS") && j+1 < len(f):
					s.name = f[j+1]
					j++
				default:
					s.image = f[j]
				}
			}
			stages = append(stages, s)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case len(stages) > 0:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return args, stages
}

func dockerfileTargets(t *testing.T) map[string]bool {
	_, stages := parseDockerfile(t)
	m := map[string]bool{}
	for _, s := range stages {
		m[s.name] = true
	}
	return m
}

var argRE = regexp.MustCompile(`\$\{?([A-Z_]+)\}?`)

// TestDockerfileRules checks what hadolint does not: every image pinned (no
// latest), the Go of go.mod in the build stage, static binaries, and every
// final stage non-root with a HEALTHCHECK on the port it exposes.
func TestDockerfileRules(t *testing.T) {
	args, stages := parseDockerfile(t)
	gomod, err := os.ReadFile(repoRoot + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil || !strings.HasPrefix(args["GO_VERSION"], string(goLine[1])+".") {
		t.Errorf("GO_VERSION %q does not follow go.mod's go %s", args["GO_VERSION"], goLine[1])
	}
	names := map[string]bool{}
	for _, s := range stages {
		names[s.name] = true
	}
	finals := 0
	for _, s := range stages {
		image := argRE.ReplaceAllStringFunc(s.image, func(m string) string { return args[argRE.FindStringSubmatch(m)[1]] })
		if names[image] {
			continue // FROM an earlier stage
		}
		ref := image[strings.LastIndex(image, "/")+1:]
		if !strings.Contains(ref, ":") && !strings.Contains(image, "@sha256:") || strings.HasSuffix(image, ":latest") {
			t.Errorf("stage %s: image %q is not pinned to a tag", s.name, image)
		}
		if s.name == "build" {
			run := ""
			for _, in := range s.ins {
				if in.cmd == "RUN" {
					run += in.args
				}
			}
			if !strings.Contains(run, "CGO_ENABLED=0") || !strings.Contains(run, "-trimpath") {
				t.Error("build stage: want CGO_ENABLED=0 and -trimpath")
			}
			continue
		}
		finals++
		var user, health, entry, expose string
		for _, in := range s.ins {
			switch in.cmd {
			case "USER":
				user = in.args
			case "HEALTHCHECK":
				health = in.args
			case "ENTRYPOINT":
				entry = in.args
			case "EXPOSE":
				expose = in.args
			case "COPY":
				if !strings.Contains(in.args, "--from=build") {
					t.Errorf("stage %s line %d: final stages copy only from the build stage", s.name, in.line)
				}
			}
		}
		if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
			t.Errorf("stage %s: USER %q, want a non-root user", s.name, user)
		}
		if !strings.Contains(health, "CMD") || !strings.Contains(entry, "/usr/local/bin/"+s.name) {
			t.Errorf("stage %s: HEALTHCHECK %q, ENTRYPOINT %q", s.name, health, entry)
		}
		m := regexp.MustCompile(`http://127\.0\.0\.1:(\d+)/`).FindStringSubmatch(health)
		if m == nil || !strings.Contains(" "+expose+" ", " "+m[1]+" ") {
			t.Errorf("stage %s: health check port %v is not exposed (%q)", s.name, m, expose)
		}
	}
	if finals != 4 || !names["edge"] || !names["control"] || !names["analytics"] || !names["switchyard"] {
		t.Errorf("final stages %v, want edge, control, analytics, switchyard", names)
	}
}
