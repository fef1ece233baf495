package bundle_test

import (
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// loadCommittedBundle reads the bundle this package's directory holds.
func loadCommittedBundle(t *testing.T) *bundle {
	t.Helper()
	loaded, err := loadBundle(".", "../bundle.Dockerfile")
	if err != nil {
		t.Fatalf("loading the bundle: %v", err)
	}
	return loaded
}

func TestBundleValidates(t *testing.T) {
	loaded := loadCommittedBundle(t)
	for _, f := range runValidators(loaded) {
		t.Errorf("%s", f)
	}
	names := make([]string, 0, len(validators))
	for _, v := range validators {
		names = append(names, v.name)
	}
	t.Logf("ran validators: %s", strings.Join(names, ", "))
}

func TestBundleContent(t *testing.T) {
	loaded := loadCommittedBundle(t)
	csv := loaded.csv

	if csv.Name != "dnscert-operator.v0.1.0" {
		t.Errorf("CSV name = %q, want dnscert-operator.v0.1.0", csv.Name)
	}
	if csv.Spec.MinKubeVersion != "1.30.0" {
		t.Errorf("minKubeVersion = %q, want 1.30.0", csv.Spec.MinKubeVersion)
	}
	if csv.Spec.Maturity != "alpha" {
		t.Errorf("maturity = %q, want alpha", csv.Spec.Maturity)
	}

	// The operator watches every namespace, so AllNamespaces is the only supported mode.
	for _, mode := range csv.Spec.InstallModes {
		want := mode.Type == operatorsv1alpha1.InstallModeTypeAllNamespaces
		if mode.Supported != want {
			t.Errorf("install mode %s supported = %t, want %t", mode.Type, mode.Supported, want)
		}
	}
	if len(csv.Spec.InstallModes) != 4 {
		t.Errorf("got %d install modes, want all 4 listed", len(csv.Spec.InstallModes))
	}

	owned := csv.Spec.CustomResourceDefinitions.Owned
	if len(owned) != 1 || owned[0].Name != "dnscertificates.certs.dnscert.io" || owned[0].Version != "v1alpha1" || owned[0].Kind != "DNSCertificate" {
		t.Fatalf("owned CRDs = %+v, want dnscertificates.certs.dnscert.io v1alpha1 DNSCertificate", owned)
	}
	if owned[0].DisplayName == "" || len(owned[0].SpecDescriptors) == 0 || len(owned[0].StatusDescriptors) == 0 {
		t.Errorf("owned CRD lacks a display name or spec and status descriptors")
	}

	examples, err := decodeExamples(csv)
	if err != nil {
		t.Fatal(err)
	}
	var exampleSecrets []string
	for _, example := range examples {
		secretName, _, _ := unstructured.NestedString(example.Object, "spec", "secretName")
		exampleSecrets = append(exampleSecrets, secretName)
	}
	if strings.Join(exampleSecrets, ",") != "dns.example1-service-account,dns.example2-service-account" {
		t.Errorf("alm-examples Secrets = %q, want the two samples of config/samples", exampleSecrets)
	}

	deployments := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 {
		t.Fatalf("got %d deployments, want 1", len(deployments))
	}
	containers := deployments[0].Spec.Template.Spec.Containers
	if len(containers) != 1 || containers[0].Image != "ghcr.io/dnscert/dnscert-operator:v0.1.0" {
		t.Errorf("manager containers = %+v, want one with image ghcr.io/dnscert/dnscert-operator:v0.1.0", containers)
	}
	if csv.Annotations["containerImage"] != "ghcr.io/dnscert/dnscert-operator:v0.1.0" {
		t.Errorf("containerImage annotation = %q", csv.Annotations["containerImage"])
	}

	strategy := csv.Spec.InstallStrategy.StrategySpec
	if len(strategy.ClusterPermissions) != 1 || len(strategy.Permissions) != 1 {
		t.Fatalf("got %d clusterPermissions and %d permissions entries, want one of each", len(strategy.ClusterPermissions), len(strategy.Permissions))
	}
	account := deployments[0].Spec.Template.Spec.ServiceAccountName
	if strategy.ClusterPermissions[0].ServiceAccountName != account || strategy.Permissions[0].ServiceAccountName != account {
		t.Errorf("permissions are not granted to the Deployment's ServiceAccount %q", account)
	}
	if !grantsSignerVerb(strategy.ClusterPermissions[0].Rules, "approve", "certs.dnscert.io/local") {
		t.Errorf("clusterPermissions do not allow approving for certs.dnscert.io/local")
	}
	if !grantsLeases(strategy.Permissions[0].Rules) {
		t.Errorf("permissions do not include the leader election Lease rule")
	}
}

func grantsSignerVerb(rules []rbacv1.PolicyRule, verb, signerName string) bool {
	for _, rule := range rules {
		if contains(rule.APIGroups, "certificates.k8s.io") && contains(rule.Resources, "signers") &&
			contains(rule.Verbs, verb) && contains(rule.ResourceNames, signerName) {
			return true
		}
	}
	return false
}

func grantsLeases(rules []rbacv1.PolicyRule) bool {
	for _, rule := range rules {
		if contains(rule.APIGroups, "coordination.k8s.io") && contains(rule.Resources, "leases") {
			return true
		}
	}
	return false
}

func contains(values []string, wanted string) bool {
	for _, value := range values {
		if value == wanted {
			return true
		}
	}
	return false
}

// TestValidatorsDetectProblems breaks the committed bundle one field at a time and checks
// that the matching validator reports it, so that TestBundleValidates cannot pass by
// checking nothing.
func TestValidatorsDetectProblems(t *testing.T) {
	committed := loadCommittedBundle(t)
	tests := []struct {
		name      string
		breakIt   func(*bundle)
		validator string
		severity  severity
		want      string
	}{
		{"invalid CSV name", func(b *bundle) { b.csv.Name = "DNSCert_Operator" }, "csv", severityError, "is not a DNS-1123 subdomain"},
		{"no install modes", func(b *bundle) { b.csv.Spec.InstallModes = nil }, "csv", severityError, "spec.installModes is empty"},
		{"no supported install mode", func(b *bundle) {
			for i := range b.csv.Spec.InstallModes {
				b.csv.Spec.InstallModes[i].Supported = false
			}
		}, "csv", severityError, "supports no install mode"},
		{"example of a foreign API", func(b *bundle) {
			b.csv.Annotations["alm-examples"] = `[{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"a"}}]`
		}, "csv", severityError, "which the CSV does not own"},
		{"example with an unknown field", func(b *bundle) {
			b.csv.Annotations["alm-examples"] = `[{"apiVersion":"certs.dnscert.io/v1alpha1","kind":"DNSCertificate","metadata":{"name":"a"},"spec":{"secretName":"a","dnsNames":["a.example"],"dnsName":"x"}}]`
		}, "csv", severityError, "does not decode into the API type"},
		{"no examples", func(b *bundle) { delete(b.csv.Annotations, "alm-examples") }, "csv", severityWarning, "has no alm-examples"},
		{"misspelt annotation", func(b *bundle) { b.csv.Annotations["olm.skiprange"] = "<0.1.0" }, "csv", severityError, "should be spelt olm.skipRange"},
		{"no storage version", func(b *bundle) { b.crds[0].Spec.Versions[0].Storage = false }, "crd", severityError, "has 0 storage versions"},
		{"CRD name mismatch", func(b *bundle) { b.crds[0].Name = "certificates.certs.dnscert.io" }, "crd", severityError, "must be <plural>.<group>"},
		{"owned CRD missing", func(b *bundle) { b.csv.Spec.CustomResourceDefinitions.Owned[0].Version = "v1" }, "bundle", severityError, "is not in the bundle"},
		{"unowned CRD", func(b *bundle) { b.csv.Spec.CustomResourceDefinitions.Owned = nil }, "bundle", severityWarning, "not owned by the CSV"},
		{"Dockerfile label differs", func(b *bundle) {
			b.dockerfileLabels[annotationPrefix+"channels.v1"] = "stable"
		}, "bundle", severityError, "bundle.Dockerfile label " + annotationPrefix + "channels.v1"},
		{"default channel not listed", func(b *bundle) {
			b.annotations[annotationPrefix+"channel.default.v1"] = "stable"
		}, "bundle", severityError, "is not one of the channels"},
		{"wrong media type", func(b *bundle) { b.annotations[annotationPrefix+"mediatype.v1"] = "plain+v0" }, "bundle", severityError, "want \"registry+v1\""},
		{"bundle too large", func(b *bundle) { b.manifestBytes = 2 << 20 }, "bundle", severityWarning, "more than 1048576"},
		{"no provider", func(b *bundle) { b.csv.Spec.Provider.Name = "" }, "operatorhub", severityError, "spec.provider.name is empty"},
		{"invalid maintainer email", func(b *bundle) { b.csv.Spec.Maintainers[0].Email = "maintainers" }, "operatorhub", severityError, "maintainer email"},
		{"link without URL", func(b *bundle) {
			b.csv.Spec.Links = append(b.csv.Spec.Links, operatorsv1alpha1.AppLink{Name: "Docs"})
		}, "operatorhub", severityError, "needs both a name and a URL"},
		{"unknown category", func(b *bundle) { b.csv.Annotations["categories"] = "Security, Certificates" }, "operatorhub", severityError, `category " Certificates"`},
		{"unknown capability", func(b *bundle) { b.csv.Annotations["capabilities"] = "Basic" }, "operatorhub", severityError, "annotation capabilities"},
		{"no minKubeVersion", func(b *bundle) { b.csv.Spec.MinKubeVersion = "" }, "operatorhub", severityWarning, "spec.minKubeVersion is empty"},
		{"invalid minKubeVersion", func(b *bundle) { b.csv.Spec.MinKubeVersion = "one.thirty" }, "operatorhub", severityError, "is not a version"},
		{"icon not SVG", func(b *bundle) { b.csv.Spec.Icon[0].Data = "PHA+aGk8L3A+" }, "operatorhub", severityError, "is not an SVG document"},
		{"no icon", func(b *bundle) { b.csv.Spec.Icon = nil }, "operatorhub", severityWarning, "spec.icon is empty"},
		{"name without version", func(b *bundle) { b.csv.Name = "dnscert-operator" }, "operatorhub", severityWarning, "does not follow <package>.v<spec.version>"},
		{"no resource requests", func(b *bundle) {
			b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Resources.Requests = nil
		}, "good-practices", severityWarning, "requests no CPU or no memory"},
		{"no memory request", func(b *bundle) {
			delete(b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Resources.Requests, "memory")
		}, "good-practices", severityWarning, "requests no CPU or no memory"},
		{"CRD without description", func(b *bundle) { b.csv.Spec.CustomResourceDefinitions.Owned[0].Description = "" }, "good-practices", severityWarning, "has an empty description"},
		{"alpha channel", func(b *bundle) { b.annotations[annotationPrefix+"channels.v1"] = "alpha" }, "good-practices", severityWarning, `channel "alpha"`},
		{"may create CRDs", func(b *bundle) {
			addClusterRule(b, rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"create"}})
		}, "good-practices", severityWarning, "may create CustomResourceDefinitions"},
		{"removed API version", func(b *bundle) {
			role := &unstructured.Unstructured{}
			role.SetAPIVersion("rbac.authorization.k8s.io/v1beta1")
			role.SetKind("ClusterRole")
			role.SetName("old")
			b.objects = append(b.objects, role)
		}, "deprecated-apis", severityError, "which Kubernetes 1.22 stopped serving"},
		{"removed API in an example", func(b *bundle) {
			b.csv.Annotations["alm-examples"] = `[{"apiVersion":"policy/v1beta1","kind":"PodDisruptionBudget","metadata":{"name":"a"}}]`
		}, "deprecated-apis", severityError, "alm-examples uses policy/v1beta1 PodDisruptionBudget"},
		{"wildcard verb", func(b *bundle) {
			addClusterRule(b, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}})
		}, "permissions", severityError, `wildcard "*"`},
		{"wildcard subresource", func(b *bundle) {
			addClusterRule(b, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*/status"}, Verbs: []string{"get"}})
		}, "permissions", severityError, `wildcard "*/status"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			broken := committed.clone()
			test.breakIt(broken)
			var matched []finding
			for _, f := range runValidators(broken) {
				if f.validator == test.validator && f.severity == test.severity && strings.Contains(f.message, test.want) {
					matched = append(matched, f)
				}
			}
			if len(matched) == 0 {
				t.Errorf("no %s %s containing %q; findings:\n%v", test.validator, test.severity, test.want, runValidators(broken))
			}
		})
	}
}

func addClusterRule(b *bundle, rule rbacv1.PolicyRule) {
	permissions := b.csv.Spec.InstallStrategy.StrategySpec.ClusterPermissions
	permissions[0].Rules = append(permissions[0].Rules, rule)
}

// TestResourceRequestZero guards the good-practices check against a quantity that parses
// but is zero, which Kubernetes treats as no request.
func TestResourceRequestZero(t *testing.T) {
	broken := loadCommittedBundle(t).clone()
	container := &broken.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0]
	container.Resources.Requests["cpu"] = resource.MustParse("0")
	found := false
	for _, f := range validateGoodPractices(broken) {
		found = found || strings.Contains(f.message, "requests no CPU")
	}
	if !found {
		t.Error("a zero CPU request is not reported")
	}
}
