// Package manifests_test renders config/default with `kubectl kustomize` and checks the
// objects that `kubectl apply -k config/default` would install.
package manifests_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

const (
	operatorNamespace = "dnscert-system"
	localSignerName   = "certs.dnscert.io/local"
)

// renderDefault runs `kubectl kustomize config/default` with the kubectl of the local
// control plane. Without KUBEBUILDER_ASSETS it skips the test, or fails it under `make test`.
func renderDefault(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	controlplane.SkipWithoutBinaries(t)
	command := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "kustomize", filepath.Join("..", "..", "config", "default"))
	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr
	if err := command.Run(); err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, stderr.String())
	}

	reader := utilyaml.NewYAMLReader(bufio.NewReader(&stdout))
	var objects []*unstructured.Unstructured
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatal(err)
		}
		var content map[string]any
		if err := yaml.Unmarshal(document, &content); err != nil {
			t.Fatal(err)
		}
		if content != nil {
			objects = append(objects, &unstructured.Unstructured{Object: content})
		}
	}
}

// decode converts an unstructured object strictly into a typed one.
func decode(t *testing.T, object *unstructured.Unstructured, typed any) {
	t.Helper()
	data, err := json.Marshal(object.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, typed); err != nil {
		t.Fatalf("decoding %s %s: %v", object.GetKind(), object.GetName(), err)
	}
}

// objectsOfKind returns the rendered objects of one kind.
func objectsOfKind(objects []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var matching []*unstructured.Unstructured
	for _, object := range objects {
		if object.GetKind() == kind {
			matching = append(matching, object)
		}
	}
	return matching
}

func TestNamespacedObjectsUseOperatorNamespace(t *testing.T) {
	objects := renderDefault(t)
	namespaces := objectsOfKind(objects, "Namespace")
	if len(namespaces) != 1 || namespaces[0].GetName() != operatorNamespace {
		t.Fatalf("rendered Namespaces = %v, want only %s", names(namespaces), operatorNamespace)
	}
	if got := namespaces[0].GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("Namespace label pod-security.kubernetes.io/enforce = %q, want restricted", got)
	}

	clusterScoped := []string{"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
	for _, object := range objects {
		if slices.Contains(clusterScoped, object.GetKind()) {
			if object.GetNamespace() != "" {
				t.Errorf("cluster-scoped %s %s has namespace %q", object.GetKind(), object.GetName(), object.GetNamespace())
			}
			continue
		}
		if object.GetNamespace() != operatorNamespace {
			t.Errorf("%s %s is in namespace %q, want %s", object.GetKind(), object.GetName(), object.GetNamespace(), operatorNamespace)
		}
	}
}

func names(objects []*unstructured.Unstructured) []string {
	result := make([]string, 0, len(objects))
	for _, object := range objects {
		result = append(result, object.GetName())
	}
	return result
}

// managerDeployment returns the only rendered Deployment and its manager container.
func managerDeployment(t *testing.T, objects []*unstructured.Unstructured) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	rendered := objectsOfKind(objects, "Deployment")
	if len(rendered) != 1 {
		t.Fatalf("got %d Deployments, want 1", len(rendered))
	}
	deployment := &appsv1.Deployment{}
	decode(t, rendered[0], deployment)
	containers := deployment.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", deployment.Name, len(containers))
	}
	return deployment, &containers[0]
}

func TestDeploymentIsHardened(t *testing.T) {
	deployment, container := managerDeployment(t, renderDefault(t))
	podSecurity := deployment.Spec.Template.Spec.SecurityContext
	containerSecurity := container.SecurityContext

	if podSecurity == nil || podSecurity.RunAsNonRoot == nil || !*podSecurity.RunAsNonRoot {
		t.Error("the pod does not set runAsNonRoot: true")
	}
	if podSecurity == nil || podSecurity.SeccompProfile == nil || podSecurity.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod does not set seccompProfile RuntimeDefault")
	}
	if containerSecurity == nil {
		t.Fatal("the manager container has no securityContext")
	}
	if containerSecurity.ReadOnlyRootFilesystem == nil || !*containerSecurity.ReadOnlyRootFilesystem {
		t.Error("the manager container does not set readOnlyRootFilesystem: true")
	}
	if containerSecurity.AllowPrivilegeEscalation == nil || *containerSecurity.AllowPrivilegeEscalation {
		t.Error("the manager container does not set allowPrivilegeEscalation: false")
	}
	if containerSecurity.Privileged != nil && *containerSecurity.Privileged {
		t.Error("the manager container is privileged")
	}
	if containerSecurity.Capabilities == nil || !slices.Equal(containerSecurity.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Error("the manager container does not drop ALL capabilities")
	}
	if containerSecurity.Capabilities != nil && len(containerSecurity.Capabilities.Add) > 0 {
		t.Errorf("the manager container adds capabilities %v", containerSecurity.Capabilities.Add)
	}
	if spec := deployment.Spec.Template.Spec; spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the pod shares a host namespace")
	}
}

func TestDeploymentResourcesAndProbes(t *testing.T) {
	_, container := managerDeployment(t, renderDefault(t))

	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, requested := container.Resources.Requests[name]
		limit, limited := container.Resources.Limits[name]
		if !requested || request.IsZero() {
			t.Errorf("the manager container has no %s request", name)
		}
		if !limited || limit.IsZero() {
			t.Errorf("the manager container has no %s limit", name)
		}
		if requested && limited && request.Cmp(limit) > 0 {
			t.Errorf("the %s request %s is above the limit %s", name, request.String(), limit.String())
		}
	}

	probes := map[string]*corev1.Probe{"liveness": container.LivenessProbe, "readiness": container.ReadinessProbe}
	wantPaths := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}
	for kind, probe := range probes {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("the manager container has no HTTP %s probe", kind)
			continue
		}
		if probe.HTTPGet.Path != wantPaths[kind] {
			t.Errorf("%s probe path = %q, want %q", kind, probe.HTTPGet.Path, wantPaths[kind])
		}
		if !containerHasPort(container, probe.HTTPGet.Port.String()) {
			t.Errorf("%s probe port %s is not a port of the container", kind, probe.HTTPGet.Port.String())
		}
	}
}

func containerHasPort(container *corev1.Container, port string) bool {
	for _, containerPort := range container.Ports {
		if containerPort.Name == port {
			return true
		}
	}
	return false
}

func TestDeploymentArgumentsAndEnvironment(t *testing.T) {
	objects := renderDefault(t)
	deployment, container := managerDeployment(t, objects)

	if !slices.Contains(container.Args, "--leader-elect") && !slices.Contains(container.Args, "--leader-elect=true") {
		t.Errorf("manager args %q lack --leader-elect", container.Args)
	}

	var podNamespace *corev1.EnvVar
	for i := range container.Env {
		if container.Env[i].Name == "POD_NAMESPACE" {
			podNamespace = &container.Env[i]
		}
	}
	switch {
	case podNamespace == nil:
		t.Error("the manager container has no POD_NAMESPACE variable")
	case podNamespace.ValueFrom == nil || podNamespace.ValueFrom.FieldRef == nil:
		t.Errorf("POD_NAMESPACE is %+v, want a downward API fieldRef", podNamespace)
	case podNamespace.ValueFrom.FieldRef.FieldPath != "metadata.namespace":
		t.Errorf("POD_NAMESPACE comes from %q, want metadata.namespace", podNamespace.ValueFrom.FieldRef.FieldPath)
	}

	if container.Image != "ghcr.io/dnscert/dnscert-operator:v0.1.0" {
		t.Errorf("manager image = %q, want ghcr.io/dnscert/dnscert-operator:v0.1.0", container.Image)
	}
	account := deployment.Spec.Template.Spec.ServiceAccountName
	accounts := names(objectsOfKind(objects, "ServiceAccount"))
	if !slices.Contains(accounts, account) {
		t.Errorf("the Deployment runs as ServiceAccount %q, which is not rendered (rendered: %v)", account, accounts)
	}
}

// allRules returns the rules of every rendered ClusterRole and Role, with the role named.
func allRules(t *testing.T, objects []*unstructured.Unstructured) map[string][]rbacv1.PolicyRule {
	t.Helper()
	rules := map[string][]rbacv1.PolicyRule{}
	for _, object := range objectsOfKind(objects, "ClusterRole") {
		role := &rbacv1.ClusterRole{}
		decode(t, object, role)
		rules["ClusterRole "+role.Name] = role.Rules
	}
	for _, object := range objectsOfKind(objects, "Role") {
		role := &rbacv1.Role{}
		decode(t, object, role)
		rules["Role "+role.Name] = role.Rules
	}
	return rules
}

func TestSignerPermissionsAreScoped(t *testing.T) {
	rules := allRules(t, renderDefault(t))
	found := map[string]bool{}
	for role, roleRules := range rules {
		for _, rule := range roleRules {
			if !slices.Contains(rule.Resources, "signers") {
				continue
			}
			if !slices.Equal(rule.APIGroups, []string{"certificates.k8s.io"}) {
				t.Errorf("%s: signers rule has API groups %q, want only certificates.k8s.io", role, rule.APIGroups)
			}
			if !slices.Equal(rule.Resources, []string{"signers"}) {
				t.Errorf("%s: signers rule also covers %q; keep signers in a rule of its own", role, rule.Resources)
			}
			if !slices.Equal(rule.ResourceNames, []string{localSignerName}) {
				t.Errorf("%s: signers rule has resourceNames %q, want only %s", role, rule.ResourceNames, localSignerName)
			}
			for _, verb := range rule.Verbs {
				found[verb] = true
			}
		}
	}
	for _, verb := range []string{"approve", "sign", "attest"} {
		if !found[verb] {
			t.Errorf("no rule grants %s on signers/%s", verb, localSignerName)
		}
	}
}

func TestNoWildcards(t *testing.T) {
	rules := allRules(t, renderDefault(t))
	if len(rules) == 0 {
		t.Fatal("no ClusterRole or Role rendered")
	}
	for role, roleRules := range rules {
		for _, rule := range roleRules {
			for _, value := range slices.Concat(rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames, rule.NonResourceURLs) {
				if value == "*" || (len(value) > 1 && (value[0] == '*' || value[len(value)-1] == '*')) {
					t.Errorf("%s: rule %+v has the wildcard %q", role, rule, value)
				}
			}
		}
	}
}

func TestBindingsGrantOnlyTheOperator(t *testing.T) {
	objects := renderDefault(t)
	accounts := names(objectsOfKind(objects, "ServiceAccount"))
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, object := range objectsOfKind(objects, kind) {
			binding := &rbacv1.RoleBinding{}
			decode(t, object, binding)
			for _, subject := range binding.Subjects {
				if subject.Kind != rbacv1.ServiceAccountKind || subject.Namespace != operatorNamespace || !slices.Contains(accounts, subject.Name) {
					t.Errorf("%s %s binds %s %s/%s, want only the operator's ServiceAccount", kind, binding.Name, subject.Kind, subject.Namespace, subject.Name)
				}
			}
		}
	}
}
