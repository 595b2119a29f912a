package chartcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

const chartDir = "../helm/switchyard"

// objects are one rendering decoded into the typed Kubernetes objects.
type objects struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []map[string]any
}

// render renders the chart with values and decodes every manifest strictly
// (unknown or duplicate fields fail), then runs the cross-object checks.
func render(t *testing.T, values map[string]any) *objects {
	t.Helper()
	ms, err := Render(chartDir, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	o := &objects{}
	for _, m := range ms {
		where := fmt.Sprintf("%s (%s %s)", m.Template, m.Kind, m.Metadata.Name)
		strict := func(into any) {
			if err := yaml.UnmarshalStrict(m.YAML, into); err != nil {
				t.Fatalf("%s does not decode strictly into %T: %v\n%s", where, into, err, m.YAML)
			}
		}
		switch gvk := m.APIVersion + "/" + m.Kind; gvk {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			strict(d)
			o.deployments = append(o.deployments, d)
		case "v1/Service":
			s := &corev1.Service{}
			strict(s)
			o.services = append(o.services, s)
		case "v1/ConfigMap":
			c := &corev1.ConfigMap{}
			strict(c)
			o.configMaps = append(o.configMaps, c)
		case "v1/Secret":
			s := &corev1.Secret{}
			strict(s)
			o.secrets = append(o.secrets, s)
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			strict(p)
			o.pdbs = append(o.pdbs, p)
		case "monitoring.coreos.com/v1/ServiceMonitor":
			var sm map[string]any
			strict(&sm)
			o.serviceMonitors = append(o.serviceMonitors, sm)
		default:
			t.Fatalf("%s: unexpected kind %s", where, gvk)
		}
		if errs := validation.IsDNS1123Subdomain(m.Metadata.Name); len(errs) > 0 {
			t.Errorf("%s: name: %v", where, errs)
		}
	}
	o.check(t)
	return o
}

func (o *objects) deployment(t *testing.T, component string) *appsv1.Deployment {
	t.Helper()
	for _, d := range o.deployments {
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == component {
			return d
		}
	}
	t.Fatalf("no %s Deployment", component)
	return nil
}

var imageRE = regexp.MustCompile(`^[a-z0-9./_-]+(:[0-9]+)?(/[a-z0-9._-]+)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// check runs the checks that hold for every rendering.
func (o *objects) check(t *testing.T) {
	t.Helper()
	cms := map[string]*corev1.ConfigMap{}
	for _, c := range o.configMaps {
		cms[c.Name] = c
	}
	secrets := map[string]bool{}
	for _, s := range o.secrets {
		secrets[s.Name] = true
	}
	for _, d := range o.deployments {
		where := "Deployment " + d.Name
		sel, err := metav1LabelSelector(d)
		if err != nil {
			t.Fatalf("%s: selector: %v", where, err)
		}
		if sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not match its pod labels %v", where, sel, d.Spec.Template.Labels)
		}
		for k, v := range d.Spec.Template.Labels {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("%s: label %s=%q: %v", where, k, v, errs)
			}
		}
		pod := d.Spec.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it does not need", where)
		}
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pod does not require runAsNonRoot", where)
		}
		volumes := map[string]bool{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = true
		}
		if len(pod.Containers) == 0 {
			t.Fatalf("%s: no containers", where)
		}
		for _, c := range pod.Containers {
			cw := where + " container " + c.Name
			if !imageRE.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("%s: image %q is not repository:tag (or is :latest)", cw, c.Image)
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s: no HTTP %s probe", cw, name)
					continue
				}
				if _, ok := ports[p.HTTPGet.Port.String()]; !ok && !hasPortNumber(ports, p.HTTPGet.Port.IntVal) {
					t.Errorf("%s: %s probe port %s is not a container port %v", cw, name, p.HTTPGet.Port.String(), ports)
				}
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: want readOnlyRootFilesystem and no privilege escalation", cw)
			}
			for _, vm := range c.VolumeMounts {
				if !volumes[vm.Name] {
					t.Errorf("%s: mounts unknown volume %q", cw, vm.Name)
				}
			}
			for _, ef := range c.EnvFrom {
				switch {
				case ef.ConfigMapRef != nil && cms[ef.ConfigMapRef.Name] == nil:
					t.Errorf("%s: envFrom ConfigMap %q is not rendered", cw, ef.ConfigMapRef.Name)
				case ef.SecretRef != nil && !secrets[ef.SecretRef.Name] && !isExternalSecret(ef.SecretRef.Name):
					t.Errorf("%s: envFrom Secret %q is not rendered", cw, ef.SecretRef.Name)
				}
			}
		}
	}
	for _, s := range o.services {
		where := "Service " + s.Name
		if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 {
			t.Errorf("%s: name: %v", where, errs)
		}
		var matched []*appsv1.Deployment
		for _, d := range o.deployments {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				matched = append(matched, d)
			}
		}
		if len(matched) != 1 {
			t.Errorf("%s: selector %v matches %d Deployments, want 1", where, s.Spec.Selector, len(matched))
			continue
		}
		c := matched[0].Spec.Template.Spec.Containers[0]
		for _, p := range s.Spec.Ports {
			found := false
			for _, cp := range c.Ports {
				found = found || cp.Name == p.TargetPort.String() || cp.ContainerPort == p.TargetPort.IntVal
			}
			if !found {
				t.Errorf("%s: targetPort %s is not a port of %s", where, p.TargetPort.String(), matched[0].Name)
			}
		}
	}
	for _, p := range o.pdbs {
		sel, err := labelSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Fatalf("PDB %s: selector %v: %v", p.Name, p.Spec.Selector, err)
		}
		if edge := o.deployment(t, "edge"); !sel.Matches(labels.Set(edge.Spec.Template.Labels)) {
			t.Errorf("PDB %s selects %v, not the edge pods %v", p.Name, sel, edge.Spec.Template.Labels)
		}
		for _, d := range o.deployments {
			if d.Spec.Template.Labels["app.kubernetes.io/component"] != "edge" && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("PDB %s also selects %s", p.Name, d.Name)
			}
		}
	}
	for _, c := range o.configMaps {
		for k := range c.Data {
			if err := knownSetting(k); err != nil {
				t.Errorf("ConfigMap %s: %v", c.Name, err)
			}
		}
	}
	for _, s := range o.secrets {
		for k := range s.StringData {
			if err := knownSetting(k); err != nil {
				t.Errorf("Secret %s: %v", s.Name, err)
			}
		}
	}
	for _, sm := range o.serviceMonitors {
		o.checkServiceMonitor(t, sm)
	}
}

func hasPortNumber(ports map[string]int32, n int32) bool {
	for _, p := range ports {
		if n != 0 && p == n {
			return true
		}
	}
	return false
}

// isExternalSecret: the variant tests name their own Secret "my-secret".
func isExternalSecret(name string) bool { return name == "my-secret" }

// checkServiceMonitor checks a ServiceMonitor's shape by hand (there is no
// CRD schema here): its selector picks Services that exist and its endpoints
// name their ports.
func (o *objects) checkServiceMonitor(t *testing.T, sm map[string]any) {
	t.Helper()
	get := func(m any, keys ...string) any {
		for _, k := range keys {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[k]
		}
		return m
	}
	if sm["apiVersion"] != "monitoring.coreos.com/v1" || sm["kind"] != "ServiceMonitor" {
		t.Errorf("ServiceMonitor: apiVersion/kind %v/%v", sm["apiVersion"], sm["kind"])
	}
	for k := range sm {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec" {
			t.Errorf("ServiceMonitor: unknown top-level field %q", k)
		}
	}
	for k := range get(sm, "spec").(map[string]any) {
		if k != "selector" && k != "endpoints" && k != "namespaceSelector" && k != "jobLabel" {
			t.Errorf("ServiceMonitor: unexpected spec field %q", k)
		}
	}
	ml, _ := get(sm, "spec", "selector", "matchLabels").(map[string]any)
	if len(ml) == 0 {
		t.Fatal("ServiceMonitor: no spec.selector.matchLabels")
	}
	set := labels.Set{}
	for k, v := range ml {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("ServiceMonitor: label %s is %T, want a string", k, v)
		}
		set[k] = s
	}
	var picked []*corev1.Service
	for _, s := range o.services {
		if labels.SelectorFromSet(set).Matches(labels.Set(s.Labels)) {
			picked = append(picked, s)
		}
	}
	var names []string
	for _, s := range picked {
		names = append(names, s.Labels["app.kubernetes.io/component"])
	}
	if sort.Strings(names); strings.Join(names, ",") != "analytics,control,edge" {
		t.Errorf("ServiceMonitor selects %v, want analytics, control and edge (the components with /metrics)", names)
	}
	eps, _ := get(sm, "spec", "endpoints").([]any)
	if len(eps) == 0 {
		t.Fatal("ServiceMonitor: no endpoints")
	}
	for _, ep := range eps {
		port, _ := get(ep, "port").(string)
		if get(ep, "path") != "/metrics" {
			t.Errorf("ServiceMonitor endpoint path %v, want /metrics", get(ep, "path"))
		}
		for _, s := range picked {
			ok := false
			for _, p := range s.Spec.Ports {
				ok = ok || p.Name == port
			}
			if !ok {
				t.Errorf("ServiceMonitor endpoint port %q is not a port of Service %s", port, s.Name)
			}
		}
	}
}

// repoRoot is the repository root (the module lives in ops/deploy/chartcheck).
const repoRoot = "../../.."

// knownSetting reports whether name is an environment variable one of the
// binaries reads: control's and the edge's are spelled out in their config
// code, analytics derives SY_ANALYTICS_<FLAG> from its setting names
// (internal/config).
func knownSetting(name string) error {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	switch {
	case strings.HasPrefix(name, "SY_EDGE_"):
		if strings.Contains(read("edge/config.go"), name+" ") {
			return nil
		}
	case strings.HasPrefix(name, "SY_CONTROL_"):
		if strings.Contains(read("control/internal/config/config.go"), `"`+name+`"`) {
			return nil
		}
	case strings.HasPrefix(name, "SY_ANALYTICS_"):
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "SY_ANALYTICS_")), "_", "-")
		if regexp.MustCompile(`\.[A-Za-z]+\(&[^,]+, "` + regexp.QuoteMeta(flag) + `",`).MatchString(read("analytics/cmd/analytics/main.go")) {
			return nil
		}
	case name == "SY_DATA_DIR":
		return nil // the all-in-one binary
	}
	return fmt.Errorf("%s is not a setting any binary reads", name)
}

func TestKnownSettingCatchesTypos(t *testing.T) {
	for _, ok := range []string{"SY_EDGE_REDIS_ADDR", "SY_CONTROL_MONGO_URI", "SY_ANALYTICS_CLICKHOUSE_ADDR", "SY_ANALYTICS_KAFKA_BROKERS"} {
		if err := knownSetting(ok); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []string{"SY_EDGE_REDIS", "SY_CONTROL_MONGO_URL", "SY_ANALYTICS_CLICKHOUSE", "SY_KAFKA_BROKERS"} {
		if knownSetting(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestChartDefaults(t *testing.T) {
	o := render(t, nil)
	if n := len(o.deployments); n != 3 {
		t.Fatalf("%d Deployments, want edge, control, analytics", n)
	}
	if len(o.pdbs) != 1 || len(o.serviceMonitors) != 0 || len(o.secrets) != 1 {
		t.Errorf("PDBs %d ServiceMonitors %d Secrets %d, want 1, 0, 1", len(o.pdbs), len(o.serviceMonitors), len(o.secrets))
	}
	edge := o.deployment(t, "edge")
	if *edge.Spec.Replicas != 2 {
		t.Errorf("edge replicas %d, want 2", *edge.Spec.Replicas)
	}
	c := edge.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe.HTTPGet.Path != "/health/liveness" || c.ReadinessProbe.HTTPGet.Path != "/health/readiness" {
		t.Errorf("edge probes %s %s", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	// graceful drain: preStop sleep, then the edge's 30 s shutdown, inside the grace period
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("edge has no preStop sleep")
	}
	if g := *edge.Spec.Template.Spec.TerminationGracePeriodSeconds; g < c.Lifecycle.PreStop.Sleep.Seconds+30 {
		t.Errorf("edge grace period %ds is shorter than preStop %ds + 30s shutdown", g, c.Lifecycle.PreStop.Sleep.Seconds)
	}
	if ru := edge.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("edge rolling update may take an edge down before its replacement is ready")
	}
	an := o.deployment(t, "analytics").Spec.Template.Spec.Containers[0]
	if an.LivenessProbe.HTTPGet.Path != "/healthz" || an.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("analytics probes %s %s, want /healthz /readyz", an.LivenessProbe.HTTPGet.Path, an.ReadinessProbe.HTTPGet.Path)
	}
	ctl := o.deployment(t, "control")
	if *ctl.Spec.Replicas != 1 || ctl.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("control: want 1 replica, readiness probed on /readyz")
	}
	cm := o.configMaps[0].Data
	for k, want := range map[string]string{"SY_EDGE_KAFKA_BROKERS": "kafka:9092", "SY_ANALYTICS_CLICKHOUSE_ADDR": "clickhouse:9000",
		"SY_CONTROL_ANALYTICS_URL": "http://sy-switchyard-analytics:8090", "SY_EDGE_ADDR": ":5100"} {
		if cm[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm[k], want)
		}
	}
	if _, ok := o.secrets[0].StringData["SY_CONTROL_MONGO_URI"]; !ok {
		t.Error("the MongoDB URI (may carry credentials) is not in the Secret")
	}
	if _, ok := cm["SY_CONTROL_MONGO_URI"]; ok {
		t.Error("the MongoDB URI is in the ConfigMap")
	}
	// the control URL of analytics names a rendered Service
	found := false
	for _, s := range o.services {
		found = found || "http://"+s.Name+":8090" == cm["SY_CONTROL_ANALYTICS_URL"]
	}
	if !found {
		t.Errorf("SY_CONTROL_ANALYTICS_URL %s names no Service", cm["SY_CONTROL_ANALYTICS_URL"])
	}
}

func TestChartVariants(t *testing.T) {
	for name, tc := range map[string]struct {
		values map[string]any
		check  func(t *testing.T, o *objects)
	}{
		"serviceMonitor": {map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
			func(t *testing.T, o *objects) {
				if len(o.serviceMonitors) != 1 {
					t.Fatalf("%d ServiceMonitors", len(o.serviceMonitors))
				}
			}},
		"scaled, no PDB, pinned tag": {map[string]any{
			"image":   map[string]any{"repository": "registry.example.com/sy", "tag": "1.2.3"},
			"edge":    map[string]any{"replicas": 5, "pdb": map[string]any{"enabled": false}, "env": map[string]any{"SY_EDGE_IDLE_TIMEOUT": "2m"}},
			"control": map[string]any{"replicas": 2}},
			func(t *testing.T, o *objects) {
				edge := o.deployment(t, "edge")
				if *edge.Spec.Replicas != 5 || len(o.pdbs) != 0 {
					t.Errorf("replicas %d, PDBs %d", *edge.Spec.Replicas, len(o.pdbs))
				}
				if img := edge.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/sy/edge:1.2.3" {
					t.Errorf("image %s", img)
				}
				if o.configMaps[0].Data["SY_EDGE_IDLE_TIMEOUT"] != "2m" {
					t.Error("edge.env not in the ConfigMap")
				}
			}},
		"edge readiness on /readyz": {map[string]any{"edge": map[string]any{"readinessPath": "/readyz"}},
			func(t *testing.T, o *objects) {
				if p := o.deployment(t, "edge").Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path; p != "/readyz" {
					t.Errorf("edge readiness probe %s, want /readyz", p)
				}
			}},
		"existing secret": {map[string]any{"secret": map[string]any{"existingSecret": "my-secret"}},
			func(t *testing.T, o *objects) {
				if len(o.secrets) != 0 {
					t.Errorf("%d Secrets rendered with existingSecret", len(o.secrets))
				}
				if ref := o.deployment(t, "control").Spec.Template.Spec.Containers[0].EnvFrom[1].SecretRef; ref == nil || ref.Name != "my-secret" {
					t.Errorf("control reads secret %v", ref)
				}
			}},
		"topic prefix and admin": {map[string]any{"external": map[string]any{"topicPrefix": "prod."},
			"secret": map[string]any{"adminPassword": "s3cret", "extra": map[string]any{"SY_CONTROL_ADMIN_EMAIL": "ops@example.com"}}},
			func(t *testing.T, o *objects) {
				for _, k := range []string{"SY_EDGE_TOPIC_PREFIX", "SY_CONTROL_TOPIC_PREFIX", "SY_ANALYTICS_TOPIC_PREFIX"} {
					if o.configMaps[0].Data[k] != "prod." {
						t.Errorf("%s = %q", k, o.configMaps[0].Data[k])
					}
				}
				if o.secrets[0].StringData["SY_CONTROL_ADMIN_PASSWORD"] != "s3cret" {
					t.Error("admin password not in the Secret")
				}
			}},
	} {
		t.Run(name, func(t *testing.T) { tc.check(t, render(t, tc.values)) })
	}
}

// TestChartRefusesMissingAddresses: no bundled databases, so an empty
// external address is an error naming the value, not a broken pod.
func TestChartRefusesMissingAddresses(t *testing.T) {
	for _, key := range []string{"kafkaBrokers", "redisAddr", "mongoURI", "clickhouseAddr"} {
		_, err := Render(chartDir, map[string]any{"external": map[string]any{key: ""}})
		if err == nil || !strings.Contains(err.Error(), "external."+key+" is required") {
			t.Errorf("external.%s empty: %v", key, err)
		}
	}
}

// TestChartRefusesUnknownEdgeReadinessPath: a path the edge does not
// serve would keep every edge unready; the chart refuses it by name.
func TestChartRefusesUnknownEdgeReadinessPath(t *testing.T) {
	_, err := Render(chartDir, map[string]any{"edge": map[string]any{"readinessPath": "/ready"}})
	if err == nil || !strings.Contains(err.Error(), "edge.readinessPath") {
		t.Errorf("edge.readinessPath /ready: %v", err)
	}
}

// TestChartRejectsUnknownFields: the strict decoding the checks rely on
// refuses a misspelt field.
func TestChartRejectsUnknownFields(t *testing.T) {
	d := &appsv1.Deployment{}
	err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n"), d)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("misspelt field accepted: %v", err)
	}
}
