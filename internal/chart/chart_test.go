package chart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart, from this package's directory.
const chartDir = "../../deploy/helm/onboarding"

// release and namespace of every rendering.
const (
	release   = "onb"
	namespace = "onboarding"
)

// secretMarker is in every secret value of testdata/values-chart-secrets.yaml.
const secretMarker = "s3cr3t"

// helm returns the helm binary (HELM), skipping the test without one unless
// CI_REQUIRE_HELM=1.
func helm(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		if os.Getenv("CI_REQUIRE_HELM") == "1" {
			t.Fatal("CI_REQUIRE_HELM=1 but HELM (the helm binary) is not set")
		}
		t.Skip("HELM is not set: the chart is not rendered (.ci/run sets it)")
	}
	return bin
}

// render runs helm template with the values files and --set arguments.
func render(t *testing.T, values []string, sets ...string) (string, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(helm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// manifests are the decoded documents of one rendering, by kind and name.
type manifests struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	ingresses    map[string]*networkingv1.Ingress
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs         map[string]*policyv1.PodDisruptionBudget
	jobs         map[string]*batchv1.Job
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	accounts     map[string]*corev1.ServiceAccount
	custom       map[string]*unstructured.Unstructured // kind/name: CRDs (ServiceMonitor, KEDA)
	hookSecrets  map[string]bool
	documentKeys []string
}

// customKinds are the CRD kinds the chart may render, decoded into
// unstructured, with their API version.
var customKinds = map[string]string{
	"ServiceMonitor":        "monitoring.coreos.com/v1",
	"ScaledObject":          "keda.sh/v1alpha1",
	"TriggerAuthentication": "keda.sh/v1alpha1",
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode splits a rendering into documents and decodes each strictly
// (unknown or duplicate fields fail) into the type of its kind.
func decode(t *testing.T, out string) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		ingresses: map[string]*networkingv1.Ingress{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, jobs: map[string]*batchv1.Job{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		accounts: map[string]*corev1.ServiceAccount{}, custom: map[string]*unstructured.Unstructured{},
		hookSecrets: map[string]bool{},
	}
	for _, doc := range docSeparator.Split(out, -1) {
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("document is not YAML: %v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // only comments
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(js, &tm); err != nil {
			t.Fatalf("document without kind: %v\n%s", err, doc)
		}
		var name string
		strict := func(into interface{ GetName() string }) {
			t.Helper()
			if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
				t.Fatalf("%s %s: strict decoding: %v\n%s", tm.Kind, tm.APIVersion, err, doc)
			}
			name = into.GetName()
		}
		want := map[string]string{
			"Deployment": "apps/v1", "Service": "v1", "Ingress": "networking.k8s.io/v1",
			"HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1", "Job": "batch/v1",
			"ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1",
		}[tm.Kind]
		if want == "" {
			want = customKinds[tm.Kind]
		}
		if want == "" || tm.APIVersion != want {
			t.Fatalf("unexpected kind %s %s (want one of the chart's kinds at its API version)\n%s", tm.APIVersion, tm.Kind, doc)
		}
		switch tm.Kind {
		case "Deployment":
			var o appsv1.Deployment
			strict(&o)
			m.deployments[name] = &o
		case "Service":
			var o corev1.Service
			strict(&o)
			m.services[name] = &o
		case "Ingress":
			var o networkingv1.Ingress
			strict(&o)
			m.ingresses[name] = &o
		case "HorizontalPodAutoscaler":
			var o autoscalingv2.HorizontalPodAutoscaler
			strict(&o)
			m.hpas[name] = &o
		case "PodDisruptionBudget":
			var o policyv1.PodDisruptionBudget
			strict(&o)
			m.pdbs[name] = &o
		case "Job":
			var o batchv1.Job
			strict(&o)
			m.jobs[name] = &o
		case "ConfigMap":
			var o corev1.ConfigMap
			strict(&o)
			m.configMaps[name] = &o
		case "Secret":
			var o corev1.Secret
			strict(&o)
			m.secrets[name] = &o
			if o.Annotations["helm.sh/hook"] != "" {
				m.hookSecrets[name] = true
			}
		case "ServiceAccount":
			var o corev1.ServiceAccount
			strict(&o)
			m.accounts[name] = &o
		default:
			var o unstructured.Unstructured
			if err := o.UnmarshalJSON(js); err != nil {
				t.Fatalf("%s: %v\n%s", tm.Kind, err, doc)
			}
			name = o.GetName()
			m.custom[tm.Kind+"/"+name] = &o
		}
		key := tm.Kind + "/" + name
		if slices.Contains(m.documentKeys, key) {
			t.Fatalf("%s rendered twice", key)
		}
		m.documentKeys = append(m.documentKeys, key)
	}
	return m
}

// chartCase is one values file and what its rendering must hold.
type chartCase struct {
	name   string
	values []string
	// What the values turn on.
	ingress, serviceMonitor, keda, searchAttributes bool
	// Secrets the chart makes (beside hook Secrets).
	chartSecrets []string
	// Secrets the values name (made by the operator): every Secret a pod
	// reads is one of these or one the chart makes.
	externalSecrets []string
	// The Temporal files mounted (mtls or a server CA).
	temporalFiles bool
}

var chartCases = []chartCase{
	{name: "default values", externalSecrets: []string{"onboarding"}},
	{
		name:    "Temporal Cloud",
		values:  []string{chartDir + "/values-temporal-cloud.yaml"},
		ingress: true, serviceMonitor: true, keda: true,
		externalSecrets: []string{"onboarding"},
	},
	{
		name:             "self-hosted cluster",
		values:           []string{chartDir + "/values-self-hosted.yaml"},
		searchAttributes: true,
		externalSecrets:  []string{"onboarding-app", "smtp-relay"},
	},
	{
		name:    "secrets made by the chart, mTLS",
		values:  []string{"testdata/values-chart-secrets.yaml"},
		ingress: true, serviceMonitor: true, keda: true, searchAttributes: true, temporalFiles: true,
		chartSecrets: []string{release + "-onboarding", release + "-onboarding-temporal-tls", release + "-onboarding-gcs"},
	},
}

func TestChartRenders(t *testing.T) {
	helm(t)
	appVersion := chartAppVersion(t)
	for _, tc := range chartCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := render(t, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, out)
			api := m.deployment(t, release+"-onboarding-api")
			worker := m.deployment(t, release+"-onboarding-worker")
			if len(m.deployments) != 2 {
				t.Errorf("deployments %v, want the api and the worker", keys(m.deployments))
			}

			t.Run("probes", func(t *testing.T) {
				checkProbes(t, container(t, api, "api"), "http", "HTTP_ADDR")
				checkProbes(t, container(t, worker, "worker"), "metrics", "METRICS_ADDR")
				// The api's /metrics is on METRICS_ADDR, the port named metrics.
				c := container(t, api, "api")
				if got, want := envValue(c, "METRICS_ADDR"), fmt.Sprintf(":%d", port(t, c, "metrics")); got != want {
					t.Errorf("api METRICS_ADDR %q, want %q (its metrics port)", got, want)
				}
			})

			t.Run("security", func(t *testing.T) {
				for _, d := range []*appsv1.Deployment{api, worker} {
					checkPodSecurity(t, d.Name, &d.Spec.Template.Spec)
				}
				for _, j := range m.jobs {
					checkPodSecurity(t, j.Name, &j.Spec.Template.Spec)
				}
			})

			t.Run("image", func(t *testing.T) {
				want := "ghcr.io/kcloud/onboarding:" + appVersion
				for _, d := range []*appsv1.Deployment{api, worker} {
					if got := d.Spec.Template.Spec.Containers[0].Image; got != want {
						t.Errorf("%s image %q, want %q (the chart's appVersion)", d.Name, got, want)
					}
				}
				for role, d := range map[string]*appsv1.Deployment{"api": api, "worker": worker} {
					if got := d.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{role}) {
						t.Errorf("%s args %q, want [%s]", d.Name, got, role)
					}
				}
			})

			t.Run("grace periods", func(t *testing.T) {
				stop := envDuration(t, container(t, worker, "worker"), "WORKER_STOP_TIMEOUT")
				if grace := gracePeriod(t, worker); grace <= stop {
					t.Errorf("worker terminationGracePeriodSeconds %s, want more than WORKER_STOP_TIMEOUT %s", grace, stop)
				}
				c := container(t, api, "api")
				stopping := envDuration(t, c, "SHUTDOWN_DELAY") + envDuration(t, c, "SHUTDOWN_TIMEOUT")
				if grace := gracePeriod(t, api); grace <= stopping {
					t.Errorf("api terminationGracePeriodSeconds %s, want more than SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT %s", grace, stopping)
				}
			})

			t.Run("replicas", func(t *testing.T) {
				for _, d := range []*appsv1.Deployment{api, worker} {
					if n := m.minReplicas(t, d); n < 2 {
						t.Errorf("%s runs at least %d replicas, want 2", d.Name, n)
					}
				}
				for _, h := range m.hpas {
					if _, ok := m.deployments[h.Spec.ScaleTargetRef.Name]; !ok || h.Spec.ScaleTargetRef.Kind != "Deployment" {
						t.Errorf("HPA %s scales %s %s, not a Deployment of the chart", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
					}
				}
			})

			t.Run("disruption budgets select their pods", func(t *testing.T) {
				covered := map[string]int{}
				for _, pdb := range m.pdbs {
					sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
					if err != nil || sel.Empty() {
						t.Fatalf("PDB %s selector %v: %v", pdb.Name, pdb.Spec.Selector, err)
					}
					var matched []string
					for _, d := range m.deployments {
						if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
							matched = append(matched, d.Name)
							covered[d.Name]++
						}
					}
					if len(matched) != 1 {
						t.Errorf("PDB %s selects the pods of %v, want exactly one Deployment", pdb.Name, matched)
					}
				}
				for _, d := range []*appsv1.Deployment{api, worker} {
					if covered[d.Name] != 1 {
						t.Errorf("%s: %d PDBs select its pods, want 1", d.Name, covered[d.Name])
					}
				}
			})

			t.Run("services select pods with the named ports", func(t *testing.T) {
				for _, s := range m.services {
					var target *appsv1.Deployment
					for _, d := range m.deployments {
						if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
							if target != nil {
								t.Errorf("Service %s selects the pods of %s and %s", s.Name, target.Name, d.Name)
							}
							target = d
						}
					}
					if len(s.Spec.Selector) == 0 || target == nil {
						t.Errorf("Service %s selects no Deployment's pods", s.Name)
						continue
					}
					for _, p := range s.Spec.Ports {
						port(t, &target.Spec.Template.Spec.Containers[0], p.TargetPort.String())
					}
				}
				if m.services[release+"-onboarding-api"] == nil || m.services[release+"-onboarding-worker"] == nil {
					t.Errorf("services %v, want the api's and the worker's", keys(m.services))
				}
			})

			t.Run("migrate hook", func(t *testing.T) { checkMigrateJob(t, m) })

			t.Run("configuration", func(t *testing.T) {
				cm := m.configMaps[release+"-onboarding"]
				if cm == nil {
					t.Fatalf("config maps %v, want %s-onboarding", keys(m.configMaps), release)
				}
				if got := cm.Data["MIGRATE_ON_START"]; got != "false" {
					t.Errorf("MIGRATE_ON_START %q with the migrate Job, want \"false\"", got)
				}
				for _, d := range []*appsv1.Deployment{api, worker} {
					c := &d.Spec.Template.Spec.Containers[0]
					if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
						t.Errorf("%s envFrom %v, want the ConfigMap %s", d.Name, c.EnvFrom, cm.Name)
					}
					for _, k := range []string{"checksum/config", "checksum/secret"} {
						if len(d.Spec.Template.Annotations[k]) != 64 {
							t.Errorf("%s pod annotation %s = %q, want a sha256", d.Name, k, d.Spec.Template.Annotations[k])
						}
					}
					checkEnvSources(t, m, d, tc.externalSecrets)
				}
			})

			t.Run("no secret in a config map", func(t *testing.T) {
				var secretValues []string
				for name, s := range m.secrets {
					for k, v := range s.Data {
						if len(v) == 0 {
							t.Errorf("Secret %s key %s is empty", name, k)
						}
						secretValues = append(secretValues, string(v))
					}
				}
				for _, cm := range m.configMaps {
					for k, v := range cm.Data {
						if strings.Contains(v, secretMarker) {
							t.Errorf("ConfigMap %s key %s holds a secret value: %q", cm.Name, k, v)
						}
						for _, s := range secretValues {
							if len(s) >= 8 && strings.Contains(v, s) {
								t.Errorf("ConfigMap %s key %s holds a Secret's value", cm.Name, k)
							}
						}
					}
				}
				for _, name := range tc.chartSecrets {
					if m.secrets[name] == nil {
						t.Errorf("secrets %v, want %s", keys(m.secrets), name)
					}
				}
				if len(tc.chartSecrets) == 0 && len(m.secrets) > 0 {
					t.Errorf("secrets %v made from a values file that names existing Secrets", keys(m.secrets))
				}
				// Every recognisable secret of the values files is in a
				// Secret, and nowhere in plain sight.
				if n := strings.Count(out, secretMarker); n != 0 {
					t.Errorf("%q appears %d times in the rendering: a secret outside Secret data", secretMarker, n)
				}
				marked := markedSecrets(t, tc.values)
				if len(tc.chartSecrets) > 0 && len(marked) == 0 {
					t.Fatalf("%v holds no %q value to look for", tc.values, secretMarker)
				}
				for _, want := range marked {
					if !slices.ContainsFunc(secretValues, func(v string) bool { return strings.Contains(v, want) }) {
						t.Errorf("the secret value %q is in no Secret", want)
					}
				}
			})

			t.Run("temporal", func(t *testing.T) {
				for _, d := range []*appsv1.Deployment{api, worker} {
					c := container(t, d, d.Spec.Template.Spec.Containers[0].Name)
					mounted := slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.Name == "temporal-tls" })
					if mounted != tc.temporalFiles {
						t.Errorf("%s mounts the Temporal TLS files: %v, want %v", d.Name, mounted, tc.temporalFiles)
					}
					if tc.temporalFiles {
						for _, k := range []string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"} {
							if p := envValue(c, k); !strings.HasPrefix(p, "/etc/onboarding/temporal-tls/") {
								t.Errorf("%s %s = %q, want a file of the mounted Secret", d.Name, k, p)
							}
						}
					}
				}
			})

			t.Run("optional parts", func(t *testing.T) {
				if got := len(m.ingresses) == 1; got != tc.ingress {
					t.Errorf("ingress rendered: %v, want %v", got, tc.ingress)
				}
				for _, ing := range m.ingresses {
					for _, r := range ing.Spec.Rules {
						for _, p := range r.HTTP.Paths {
							if p.Backend.Service == nil || m.services[p.Backend.Service.Name] == nil || p.Backend.Service.Port.Name != "http" {
								t.Errorf("ingress %s backend %v, want the api Service's http port", ing.Name, p.Backend)
							}
						}
					}
				}
				if got := m.custom["ServiceMonitor/"+release+"-onboarding"] != nil; got != tc.serviceMonitor {
					t.Errorf("ServiceMonitor rendered: %v, want %v", got, tc.serviceMonitor)
				}
				so := m.custom["ScaledObject/"+release+"-onboarding-worker"]
				if got := so != nil; got != tc.keda {
					t.Errorf("ScaledObject rendered: %v, want %v", got, tc.keda)
				}
				if so != nil {
					checkScaledObject(t, m, so, worker)
				}
				job := m.jobs[release+"-onboarding-search-attributes"]
				if got := job != nil; got != tc.searchAttributes {
					t.Errorf("search-attribute Job rendered: %v, want %v", got, tc.searchAttributes)
				}
				if job != nil {
					checkSearchAttributeJob(t, job)
				}
			})
		})
	}
}

// TestChartRestartsPodsOnChange: a changed chart-made Secret or ConfigMap
// changes the pods' checksum annotations (so they restart); nothing else does.
func TestChartRestartsPodsOnChange(t *testing.T) {
	helm(t)
	values := []string{"testdata/values-chart-secrets.yaml"}
	base, err := render(t, values)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set     string
		changed string // the annotation that must change; the other must not
	}{
		{"secrets.env.ADMIN_TOKEN.value=s3cr3t-another-admin-token", "checksum/secret"},
		{"temporal.tls.clientKey=-----BEGIN PRIVATE KEY-----another", "checksum/secret"},
		{"config.LOG_LEVEL=debug", "checksum/config"},
		{"temporal.namespace=elsewhere", "checksum/config"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			out, err := render(t, values, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			before, after := decode(t, base), decode(t, out)
			for name, d := range after.deployments {
				for _, k := range []string{"checksum/config", "checksum/secret"} {
					was, is := before.deployments[name].Spec.Template.Annotations[k], d.Spec.Template.Annotations[k]
					if (was != is) != (k == tc.changed) {
						t.Errorf("%s %s: %s -> %s (changed: %v, want %v)", name, k, was, is, was != is, k == tc.changed)
					}
				}
			}
		})
	}
}

// TestChartRefusesWrongValues: the schema (and the template's own checks)
// stop a wrong value with a message naming it.
func TestChartRefusesWrongValues(t *testing.T) {
	helm(t)
	for _, tc := range []struct {
		name   string
		values []string
		sets   []string
		want   []string // in helm's error
	}{
		{"replicas not a number", nil, []string{"worker.replicas=two"}, []string{"/worker/replicas", "integer"}},
		{"unknown Temporal auth", nil, []string{"temporal.auth=password"}, []string{"/temporal/auth", "none", "apiKey", "mtls"}},
		{"Temporal address without a port", nil, []string{"temporal.address=temporal.example.com"}, []string{"/temporal/address"}},
		{"a secret in the config map", nil, []string{"config.ADMIN_TOKEN=abc"}, []string{"/config/ADMIN_TOKEN", "secrets.env.ADMIN_TOKEN"}},
		{"not an environment variable's name", nil, []string{"config.log_level=debug"}, []string{"/config", "log_level"}},
		{"a chart-managed setting in the config map", nil, []string{"config.WORKER_STOP_TIMEOUT=10s"}, []string{"/config/WORKER_STOP_TIMEOUT", "worker.stopTimeoutSeconds"}},
		{"a mistyped secret", nil, []string{"secrets.env.DATABASE_ULR.value=x"}, []string{"/secrets/env", "DATABASE_ULR"}},
		{"a mistyped top-level key", nil, []string{"workers.replicas=3"}, []string{"workers"}},
		{"a writable root filesystem", nil, []string{"securityContext.readOnlyRootFilesystem=false"}, []string{"/securityContext/readOnlyRootFilesystem"}},
		{"root", nil, []string{"podSecurityContext.runAsNonRoot=false"}, []string{"/podSecurityContext/runAsNonRoot"}},
		{"no resource requests", nil, []string{"api.resources.requests=null"}, []string{"/api/resources", "requests"}},
		{"a wrong SMTP_TLS", nil, []string{"config.SMTP_TLS=ssl"}, []string{"/config/SMTP_TLS"}},
		{"a public URL that is not one", nil, []string{"config.PUBLIC_BASE_URL=onboarding.example.com"}, []string{"/config/PUBLIC_BASE_URL"}},
		{"a redis URL in the config map", nil, []string{"config.RATE_LIMIT_STORE=redis://:pw@redis:6379/0"}, []string{"/config/RATE_LIMIT_STORE"}},
		{"no database", nil, []string{"secrets.existingSecret="}, []string{"secrets.env.DATABASE_URL is required"}},
		{"mTLS without a certificate", nil, []string{"temporal.auth=mtls"}, []string{"temporal.auth=mtls needs"}},
		{"KEDA and the HPA at once", nil, []string{"worker.keda.enabled=true"}, []string{"worker.keda.enabled and worker.autoscaling.enabled"}},
		{"a secret given twice", nil, []string{"secrets.env.ADMIN_TOKEN.value=x", "secrets.env.ADMIN_TOKEN.existingSecret=y"}, []string{"secrets.env.ADMIN_TOKEN: set value or existingSecret, not both"}},
		{"a grace period at the stop timeout", nil, []string{"worker.terminationGraceExtraSeconds=0"}, []string{"/worker/terminationGraceExtraSeconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values, tc.sets...)
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.sets)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func (m *manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d := m.deployments[name]
	if d == nil {
		t.Fatalf("deployments %v, want %s", keys(m.deployments), name)
	}
	return d
}

// minReplicas is the fewest pods a Deployment runs: its replicas, or the
// minimum of the HPA or ScaledObject that scales it.
func (m *manifests) minReplicas(t *testing.T, d *appsv1.Deployment) int {
	t.Helper()
	var scalers []int
	for _, h := range m.hpas {
		if h.Spec.ScaleTargetRef.Name == d.Name && h.Spec.MinReplicas != nil {
			scalers = append(scalers, int(*h.Spec.MinReplicas))
		}
	}
	for _, so := range m.custom {
		if so.GetKind() != "ScaledObject" {
			continue
		}
		if target, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "name"); target == d.Name {
			n, _, _ := unstructured.NestedInt64(so.Object, "spec", "minReplicaCount")
			scalers = append(scalers, int(n))
		}
	}
	switch {
	case d.Spec.Replicas != nil && len(scalers) == 0:
		return int(*d.Spec.Replicas)
	case d.Spec.Replicas == nil && len(scalers) == 1:
		return scalers[0]
	}
	t.Fatalf("%s: replicas %v and %d scalers: want exactly one of them", d.Name, d.Spec.Replicas, len(scalers))
	return 0
}

func container(t *testing.T, d *appsv1.Deployment, name string) *corev1.Container {
	t.Helper()
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("%s has no container %s", d.Name, name)
	return nil
}

// port resolves a container port by name (or number).
func port(t *testing.T, c *corev1.Container, nameOrNumber string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == nameOrNumber || strconv.Itoa(int(p.ContainerPort)) == nameOrNumber {
			return p.ContainerPort
		}
	}
	t.Errorf("container %s has no port %q", c.Name, nameOrNumber)
	return 0
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envDuration(t *testing.T, c *corev1.Container, name string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(envValue(c, name))
	if err != nil {
		t.Fatalf("%s %s: %v", c.Name, name, err)
	}
	return d
}

func gracePeriod(t *testing.T, d *appsv1.Deployment) time.Duration {
	t.Helper()
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatalf("%s has no terminationGracePeriodSeconds", d.Name)
	}
	return time.Duration(*g) * time.Second
}

// checkProbes: startup and liveness on /healthz, readiness on /readyz, all
// on the port named portName, which is where the process listens (addrEnv).
func checkProbes(t *testing.T, c *corev1.Container, portName, addrEnv string) {
	t.Helper()
	want := port(t, c, portName)
	if got := envValue(c, addrEnv); got != fmt.Sprintf(":%d", want) {
		t.Errorf("%s %s %q, want \":%d\" (the probes' port)", c.Name, addrEnv, got, want)
	}
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", c.Name, p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s %s probe path %q, want %q", c.Name, p.kind, p.probe.HTTPGet.Path, p.path)
		}
		if got := port(t, c, p.probe.HTTPGet.Port.String()); got != want {
			t.Errorf("%s %s probe port %s (%d), want %s (%d)", c.Name, p.kind, p.probe.HTTPGet.Port.String(), got, portName, want)
		}
		if p.probe.PeriodSeconds < 1 || p.probe.FailureThreshold < 1 {
			t.Errorf("%s %s probe period %d, failures %d", c.Name, p.kind, p.probe.PeriodSeconds, p.probe.FailureThreshold)
		}
	}
	// The startup probe allows for the minute the process waits for Temporal.
	if s := c.StartupProbe; s != nil && s.PeriodSeconds*s.FailureThreshold < 60 {
		t.Errorf("%s startup probe gives up after %d s, want at least 60 (the wait for Temporal)", c.Name, s.PeriodSeconds*s.FailureThreshold)
	}
}

func checkPodSecurity(t *testing.T, owner string, spec *corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot not true", owner)
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: no numeric non-root runAsUser (the kubelet cannot check a named USER)", owner)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile not RuntimeDefault", owner)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted", owner)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation not false", owner, c.Name)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: readOnlyRootFilesystem not true", owner, c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s/%s: capabilities do not drop ALL", owner, c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s/%s: no cpu and memory requests (%v)", owner, c.Name, c.Resources.Requests)
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == "/tmp" }) {
			t.Errorf("%s/%s: no writable /tmp on the read-only root filesystem", owner, c.Name)
		}
	}
}

// checkMigrateJob: `migrate` runs as a pre-install and pre-upgrade hook,
// with nothing it needs made only by the release (which comes after it).
func checkMigrateJob(t *testing.T, m *manifests) {
	t.Helper()
	job := m.jobs[release+"-onboarding-migrate"]
	if job == nil {
		t.Fatalf("jobs %v, want %s-onboarding-migrate", keys(m.jobs), release)
	}
	hooks := strings.Split(job.Annotations["helm.sh/hook"], ",")
	for _, want := range []string{"pre-install", "pre-upgrade"} {
		if !slices.Contains(hooks, want) {
			t.Errorf("migrate Job hooks %q, want %s", hooks, want)
		}
	}
	weight, err := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
	if err != nil {
		t.Errorf("migrate Job hook-weight %q: %v", job.Annotations["helm.sh/hook-weight"], err)
	}
	if p := job.Annotations["helm.sh/hook-delete-policy"]; !strings.Contains(p, "before-hook-creation") {
		t.Errorf("migrate Job hook-delete-policy %q, want before-hook-creation (an upgrade re-runs it)", p)
	}
	spec := job.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("migrate Job restartPolicy %q", spec.RestartPolicy)
	}
	if len(spec.Containers) != 1 || !slices.Equal(spec.Containers[0].Args, []string{"migrate"}) {
		t.Fatalf("migrate Job containers %v, want one with args [migrate]", spec.Containers)
	}
	if m.accounts[spec.ServiceAccountName] != nil {
		t.Errorf("migrate Job runs as %s, which the release makes after the pre-install hook", spec.ServiceAccountName)
	}
	c := spec.Containers[0]
	var db *corev1.SecretKeySelector
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			t.Errorf("migrate Job reads ConfigMap %s, which the release makes after the pre-install hook", e.ValueFrom.ConfigMapKeyRef.Name)
		}
		if e.Name == "DATABASE_URL" && e.ValueFrom != nil {
			db = e.ValueFrom.SecretKeyRef
		}
	}
	if len(c.EnvFrom) > 0 {
		t.Errorf("migrate Job envFrom %v: made by the release after the pre-install hook", c.EnvFrom)
	}
	if db == nil {
		t.Fatal("migrate Job has no DATABASE_URL from a Secret")
	}
	if s := m.secrets[db.Name]; s != nil {
		// Made by the chart: then as an earlier hook.
		sw, _ := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
		if !m.hookSecrets[db.Name] || !strings.Contains(s.Annotations["helm.sh/hook"], "pre-install") || sw >= weight {
			t.Errorf("migrate Job reads Secret %s, not a pre-install hook of lower weight than the Job's (%v)", db.Name, s.Annotations)
		}
		if _, ok := s.Data[db.Key]; !ok {
			t.Errorf("Secret %s has no key %s", db.Name, db.Key)
		}
	}
}

// checkEnvSources: every Secret a pod reads is one the chart makes (with the
// key) or one the values name; hook Secrets are not for the pods.
func checkEnvSources(t *testing.T, m *manifests, d *appsv1.Deployment, external []string) {
	t.Helper()
	known := func(what, name string) {
		t.Helper()
		switch {
		case m.hookSecrets[name]:
			t.Errorf("%s %s: the hook Secret %s (deleted after the hook)", d.Name, what, name)
		case m.secrets[name] == nil && !slices.Contains(external, name):
			t.Errorf("%s %s: Secret %s is neither made by the chart nor named by the values (%v)", d.Name, what, name, external)
		}
	}
	c := &d.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		known(e.Name, ref.Name)
		if s := m.secrets[ref.Name]; s != nil {
			if _, ok := s.Data[ref.Key]; !ok {
				t.Errorf("%s %s reads key %s the Secret %s lacks", d.Name, e.Name, ref.Key, ref.Name)
			}
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			known("volume "+v.Name, v.Secret.SecretName)
			if s := m.secrets[v.Secret.SecretName]; s != nil {
				for _, mnt := range c.VolumeMounts {
					if mnt.Name != v.Name {
						continue
					}
					for _, e := range c.Env {
						if rel, ok := strings.CutPrefix(e.Value, mnt.MountPath+"/"); ok && s.Data[rel] == nil {
							t.Errorf("%s %s = %s: Secret %s has no key %s", d.Name, e.Name, e.Value, s.Name, rel)
						}
					}
				}
			}
		}
	}
	for _, want := range []string{"DATABASE_URL", "PAYLOAD_ENCRYPTION_KEYS"} {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
			return e.Name == want && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && (e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional)
		}) {
			t.Errorf("%s: %s not from a Secret, or optional", d.Name, want)
		}
	}
}

func checkScaledObject(t *testing.T, m *manifests, so *unstructured.Unstructured, worker *appsv1.Deployment) {
	t.Helper()
	if target, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "name"); target != worker.Name {
		t.Errorf("ScaledObject scales %q, want %s", target, worker.Name)
	}
	triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	var temporal map[string]any
	for _, tr := range triggers {
		if tm, _ := tr.(map[string]any); tm["type"] == "temporal" {
			temporal = tm
		}
	}
	if temporal == nil {
		t.Fatalf("ScaledObject triggers %v, want a temporal one", triggers)
	}
	md, _ := temporal["metadata"].(map[string]any)
	for _, k := range []string{"endpoint", "namespace", "taskQueue", "targetQueueSize"} {
		if s, _ := md[k].(string); s == "" {
			t.Errorf("temporal trigger metadata %s = %v, want a string", k, md[k])
		}
	}
	cm := m.configMaps[release+"-onboarding"]
	if md["endpoint"] != cm.Data["TEMPORAL_ADDRESS"] || md["namespace"] != cm.Data["TEMPORAL_NAMESPACE"] || md["taskQueue"] != cm.Data["TEMPORAL_TASK_QUEUE"] {
		t.Errorf("temporal trigger %v, not the worker's Temporal %v", md, cm.Data)
	}
	if ref, ok := temporal["authenticationRef"].(map[string]any); ok {
		ta := m.custom["TriggerAuthentication/"+fmt.Sprint(ref["name"])]
		if ta == nil {
			t.Fatalf("trigger authenticationRef %v names no TriggerAuthentication", ref)
		}
		refs, _, _ := unstructured.NestedSlice(ta.Object, "spec", "secretTargetRef")
		if len(refs) == 0 {
			t.Errorf("TriggerAuthentication %s has no secretTargetRef", ta.GetName())
		}
	}
}

func checkSearchAttributeJob(t *testing.T, job *batchv1.Job) {
	t.Helper()
	if h := job.Annotations["helm.sh/hook"]; !strings.Contains(h, "post-install") {
		t.Errorf("search-attribute Job hook %q, want post-install", h)
	}
	c := job.Spec.Template.Spec.Containers[0]
	if c.Image != "temporalio/admin-tools:1.32.1" {
		t.Errorf("search-attribute Job image %q", c.Image)
	}
	script := strings.Join(append(c.Command, c.Args...), " ")
	for _, a := range []string{"--name SignupStatus --type Keyword", "--name OrganizationName --type Keyword", "--name BusinessNumber --type Keyword"} {
		if !strings.Contains(script, a) {
			t.Errorf("search-attribute Job does not create %q", a)
		}
	}
}

var markedSecret = regexp.MustCompile(secretMarker + `-[a-z0-9-]+`)

// markedSecrets are the recognisable secret values of values files.
func markedSecrets(t *testing.T, files []string) []string {
	t.Helper()
	var found []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, markedSecret.FindAllString(string(b), -1)...)
	}
	return found
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion %q: %v", c.AppVersion, err)
	}
	return c.AppVersion
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
