package bundle_test

// The checks below follow the validators that `operator-sdk bundle validate
// --select-optional suite=operatorframework` runs from github.com/operator-framework/api:
// the default bundle validators (CSV, CRD, bundle) and the optional OperatorHub,
// good-practices and deprecated-API validators. That module's validation package cannot be
// used here: its newest release on the Go module proxy, v0.9.1, calls a
// k8s.io/apiextensions-apiserver function whose signature changed long before v0.37.2, so it
// does not compile against the Kubernetes modules this project uses. The CSV types of that
// module do compile and are used for strict decoding.

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// severity is the level of a finding, error or warning. operator-sdk fails only on errors,
// but the tests here fail on both.
type severity string

const (
	severityError   severity = "error"
	severityWarning severity = "warning"
)

// finding is one problem a validator reports.
type finding struct {
	validator string
	severity  severity
	message   string
}

func (f finding) String() string {
	return fmt.Sprintf("[%s] %s: %s", f.validator, f.severity, f.message)
}

// validator is one named group of checks.
type validator struct {
	name  string
	check func(*bundle) []finding
}

// validators are the checks of the operatorframework suite, in the order operator-sdk
// reports them.
var validators = []validator{
	{"csv", validateCSV},
	{"crd", validateCRDs},
	{"bundle", validateBundleStructure},
	{"operatorhub", validateOperatorHub},
	{"good-practices", validateGoodPractices},
	{"deprecated-apis", validateDeprecatedAPIs},
	{"permissions", validatePermissions},
}

// runValidators runs every validator on b.
func runValidators(b *bundle) []finding {
	var findings []finding
	for _, v := range validators {
		for _, f := range v.check(b) {
			f.validator = v.name
			findings = append(findings, f)
		}
	}
	return findings
}

func errorf(format string, args ...any) finding {
	return finding{severity: severityError, message: fmt.Sprintf(format, args...)}
}

func warningf(format string, args ...any) finding {
	return finding{severity: severityWarning, message: fmt.Sprintf(format, args...)}
}

// caseSensitiveAnnotations are OLM annotation keys whose spelling OLM matches exactly.
var caseSensitiveAnnotations = []string{
	"olm.operatorGroup", "olm.operatorNamespace", "olm.targetNamespaces", "olm.providedAPIs", "olm.skipRange",
}

// validateCSV checks the ClusterServiceVersion on its own: name, install modes, install
// strategy, required fields, examples and annotation keys.
func validateCSV(b *bundle) []finding {
	var findings []finding
	csv := b.csv
	if problems := validation.IsDNS1123Subdomain(csv.Name); len(problems) > 0 {
		findings = append(findings, errorf("metadata.name %q is not a DNS-1123 subdomain: %s", csv.Name, strings.Join(problems, "; ")))
	}
	if csv.Spec.Replaces != "" {
		if problems := validation.IsDNS1123Subdomain(csv.Spec.Replaces); len(problems) > 0 {
			findings = append(findings, errorf("spec.replaces %q is not a DNS-1123 subdomain", csv.Spec.Replaces))
		}
	}
	if csv.Spec.DisplayName == "" {
		findings = append(findings, errorf("spec.displayName is required"))
	}

	findings = append(findings, checkInstallModes(csv)...)
	findings = append(findings, checkInstallStrategy(csv)...)
	findings = append(findings, checkExamples(csv)...)

	for key := range csv.Annotations {
		for _, known := range caseSensitiveAnnotations {
			if key != known && strings.EqualFold(key, known) {
				findings = append(findings, errorf("annotation %s should be spelt %s", key, known))
			}
		}
	}
	return findings
}

func checkInstallModes(csv *operatorsv1alpha1.ClusterServiceVersion) []finding {
	if len(csv.Spec.InstallModes) == 0 {
		return []finding{errorf("spec.installModes is empty")}
	}
	var findings []finding
	known := []operatorsv1alpha1.InstallModeType{
		operatorsv1alpha1.InstallModeTypeOwnNamespace, operatorsv1alpha1.InstallModeTypeSingleNamespace,
		operatorsv1alpha1.InstallModeTypeMultiNamespace, operatorsv1alpha1.InstallModeTypeAllNamespaces,
	}
	seen := map[operatorsv1alpha1.InstallModeType]bool{}
	anySupported := false
	for _, mode := range csv.Spec.InstallModes {
		if !slices.Contains(known, mode.Type) {
			findings = append(findings, errorf("spec.installModes has an unknown type %q", mode.Type))
		}
		if seen[mode.Type] {
			findings = append(findings, errorf("spec.installModes lists %s twice", mode.Type))
		}
		seen[mode.Type] = true
		anySupported = anySupported || mode.Supported
	}
	if !anySupported {
		findings = append(findings, errorf("spec.installModes supports no install mode"))
	}
	return findings
}

func checkInstallStrategy(csv *operatorsv1alpha1.ClusterServiceVersion) []finding {
	var findings []finding
	strategy := csv.Spec.InstallStrategy
	if strategy.StrategyName != operatorsv1alpha1.InstallStrategyNameDeployment {
		findings = append(findings, errorf("spec.install.strategy is %q, want %q", strategy.StrategyName, operatorsv1alpha1.InstallStrategyNameDeployment))
	}
	if len(strategy.StrategySpec.DeploymentSpecs) == 0 {
		findings = append(findings, errorf("spec.install.spec.deployments is empty"))
	}
	for i, deployment := range strategy.StrategySpec.DeploymentSpecs {
		if problems := validation.IsDNS1123Subdomain(deployment.Name); len(problems) > 0 {
			findings = append(findings, errorf("spec.install.spec.deployments[%d].name %q is invalid", i, deployment.Name))
		}
		if deployment.Spec.Selector == nil || len(deployment.Spec.Selector.MatchLabels)+len(deployment.Spec.Selector.MatchExpressions) == 0 {
			findings = append(findings, errorf("deployment %s has no selector", deployment.Name))
		}
		if len(deployment.Spec.Template.Spec.Containers) == 0 {
			findings = append(findings, errorf("deployment %s has no containers", deployment.Name))
		}
	}
	for _, permission := range slices.Concat(strategy.StrategySpec.Permissions, strategy.StrategySpec.ClusterPermissions) {
		if permission.ServiceAccountName == "" {
			findings = append(findings, errorf("a permission entry has no serviceAccountName"))
		}
	}
	return findings
}

// checkExamples checks that alm-examples parses, that every example is of an owned API
// and decodes strictly into the Go type, and that every owned API has an example.
func checkExamples(csv *operatorsv1alpha1.ClusterServiceVersion) []finding {
	if _, found := csv.Annotations["alm-examples"]; !found {
		return []finding{warningf("metadata.annotations has no alm-examples")}
	}
	examples, err := decodeExamples(csv)
	if err != nil {
		return []finding{errorf("alm-examples is not a JSON array of objects: %v", err)}
	}

	var findings []finding
	owned := ownedGVKs(csv)
	exampled := map[schema.GroupVersionKind]bool{}
	for _, example := range examples {
		gvk := example.GroupVersionKind()
		exampled[gvk] = true
		if !owned[gvk] {
			findings = append(findings, errorf("alm-examples has an example of %s, which the CSV does not own", gvk))
			continue
		}
		if gvk == certsv1alpha1.GroupVersion.WithKind("DNSCertificate") {
			findings = append(findings, checkDNSCertificateExample(example.Object)...)
		}
	}
	for gvk := range owned {
		if !exampled[gvk] {
			findings = append(findings, warningf("owned API %s has no example in alm-examples", gvk))
		}
	}
	return findings
}

// checkDNSCertificateExample decodes an example strictly into the API type and checks the
// fields the CRD requires.
func checkDNSCertificateExample(object map[string]any) []finding {
	data, err := yaml.Marshal(object)
	if err != nil {
		return []finding{errorf("encoding an example: %v", err)}
	}
	var certificate certsv1alpha1.DNSCertificate
	if err := yaml.UnmarshalStrict(data, &certificate); err != nil {
		return []finding{errorf("example DNSCertificate does not decode into the API type: %v", err)}
	}
	if certificate.Spec.SecretName == "" || len(certificate.Spec.DNSNames) == 0 {
		return []finding{errorf("example DNSCertificate %q lacks spec.secretName or spec.dnsNames", certificate.Name)}
	}
	return nil
}

// ownedGVKs returns the group, version and kind of each owned CRD entry.
func ownedGVKs(csv *operatorsv1alpha1.ClusterServiceVersion) map[schema.GroupVersionKind]bool {
	owned := map[schema.GroupVersionKind]bool{}
	for _, crd := range csv.Spec.CustomResourceDefinitions.Owned {
		_, group, _ := strings.Cut(crd.Name, ".")
		owned[schema.GroupVersionKind{Group: group, Version: crd.Version, Kind: crd.Kind}] = true
	}
	return owned
}

// validateCRDs checks each CRD's names, versions and schemas.
func validateCRDs(b *bundle) []finding {
	var findings []finding
	for _, crd := range b.crds {
		names := crd.Spec.Names
		if names.Kind == "" || names.Plural == "" || names.ListKind == "" {
			findings = append(findings, errorf("CRD %s lacks spec.names.kind, plural or listKind", crd.Name))
		}
		if want := names.Plural + "." + crd.Spec.Group; crd.Name != want {
			findings = append(findings, errorf("CRD name %q must be <plural>.<group>, %q", crd.Name, want))
		}
		if crd.Spec.Scope != "Namespaced" && crd.Spec.Scope != "Cluster" {
			findings = append(findings, errorf("CRD %s has an invalid scope %q", crd.Name, crd.Spec.Scope))
		}

		storageVersions := 0
		seen := map[string]bool{}
		for _, version := range crd.Spec.Versions {
			if seen[version.Name] {
				findings = append(findings, errorf("CRD %s lists version %s twice", crd.Name, version.Name))
			}
			seen[version.Name] = true
			if version.Storage {
				storageVersions++
			}
			if version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
				findings = append(findings, errorf("CRD %s version %s has no openAPIV3Schema", crd.Name, version.Name))
			}
		}
		if storageVersions != 1 {
			findings = append(findings, errorf("CRD %s has %d storage versions, want exactly 1", crd.Name, storageVersions))
		}
	}
	return findings
}

// bundleSizeWarning is the size above which manifests/ may not fit a catalog that stores
// each bundle in one ConfigMap; Kubernetes limits ConfigMap data to 1 MiB.
const bundleSizeWarning = 1 << 20

// validateBundleStructure checks that the CSV and the CRDs agree, and that the metadata and
// the Dockerfile describe the same bundle.
func validateBundleStructure(b *bundle) []finding {
	var findings []finding

	inBundle := map[schema.GroupVersionKind]int{}
	for _, crd := range b.crds {
		for _, version := range crd.Spec.Versions {
			inBundle[schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}]++
		}
	}
	for gvk, count := range inBundle {
		if count > 1 {
			findings = append(findings, errorf("the bundle has %d CRDs for %s", count, gvk))
		}
	}
	ownedKinds := map[schema.GroupKind]bool{}
	for gvk := range ownedGVKs(b.csv) {
		ownedKinds[gvk.GroupKind()] = true
		if inBundle[gvk] == 0 {
			findings = append(findings, errorf("owned CRD %s is not in the bundle", gvk))
		}
	}
	for gvk := range inBundle {
		if !ownedKinds[gvk.GroupKind()] {
			findings = append(findings, warningf("CRD %s is in the bundle but not owned by the CSV", gvk))
		}
	}

	serviceAccounts := map[string]bool{}
	for _, deployment := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		serviceAccounts[deployment.Spec.Template.Spec.ServiceAccountName] = true
	}
	for _, object := range b.objects {
		if object.GetKind() == "ServiceAccount" && serviceAccounts[object.GetName()] {
			findings = append(findings, errorf("ServiceAccount %s is in the bundle, but OLM creates the CSV's ServiceAccounts itself", object.GetName()))
		}
	}

	if b.manifestBytes > bundleSizeWarning {
		findings = append(findings, warningf("manifests/ holds %d bytes, more than %d", b.manifestBytes, bundleSizeWarning))
	}
	findings = append(findings, checkBundleMetadata(b)...)
	return findings
}

const annotationPrefix = "operators.operatorframework.io.bundle."

func checkBundleMetadata(b *bundle) []finding {
	var findings []finding
	want := map[string]string{
		annotationPrefix + "mediatype.v1": "registry+v1",
		annotationPrefix + "manifests.v1": "manifests/",
		annotationPrefix + "metadata.v1":  "metadata/",
	}
	for _, key := range sortedKeys(want) {
		if got := b.annotations[key]; got != want[key] {
			findings = append(findings, errorf("metadata/annotations.yaml: %s is %q, want %q", key, got, want[key]))
		}
	}

	packageName := b.annotations[annotationPrefix+"package.v1"]
	if packageName == "" {
		findings = append(findings, errorf("metadata/annotations.yaml has no package name"))
	} else if !strings.HasPrefix(b.csv.Name, packageName+".v") {
		findings = append(findings, errorf("CSV name %q does not start with the package name %q", b.csv.Name, packageName+".v"))
	}
	if want := packageName + ".clusterserviceversion.yaml"; b.csvFile != want {
		findings = append(findings, warningf("the CSV is in manifests/%s, want manifests/%s", b.csvFile, want))
	}

	channels := strings.Split(b.annotations[annotationPrefix+"channels.v1"], ",")
	if len(channels) == 0 || channels[0] == "" {
		findings = append(findings, errorf("metadata/annotations.yaml has no channels"))
	}
	if defaultChannel := b.annotations[annotationPrefix+"channel.default.v1"]; defaultChannel != "" && !slices.Contains(channels, defaultChannel) {
		findings = append(findings, errorf("default channel %q is not one of the channels %q", defaultChannel, channels))
	}

	for _, key := range sortedKeys(b.annotations) {
		if got, found := b.dockerfileLabels[key]; !found || got != b.annotations[key] {
			findings = append(findings, errorf("bundle.Dockerfile label %s is %q, but metadata/annotations.yaml has %q", key, got, b.annotations[key]))
		}
	}
	for _, key := range sortedKeys(b.dockerfileLabels) {
		if _, found := b.annotations[key]; !found && strings.HasPrefix(key, annotationPrefix) {
			findings = append(findings, errorf("bundle.Dockerfile label %s is not in metadata/annotations.yaml", key))
		}
	}
	if b.dockerfileCopies["bundle/manifests"] != "/manifests/" || b.dockerfileCopies["bundle/metadata"] != "/metadata/" {
		findings = append(findings, errorf("bundle.Dockerfile must copy bundle/manifests to /manifests/ and bundle/metadata to /metadata/, got %v", b.dockerfileCopies))
	}
	return findings
}

// The values OperatorHub accepts for the capabilities and categories annotations and for
// the icon.
var (
	validCapabilities = []string{"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot"}
	validCategories   = []string{
		"AI/Machine Learning", "Application Runtime", "Big Data", "Cloud Provider", "Developer Tools", "Database",
		"Integration & Delivery", "Logging & Tracing", "Monitoring", "Networking", "OpenShift Optional", "Security",
		"Storage", "Streaming & Messaging",
	}
	validIconMediaTypes = []string{"image/gif", "image/jpeg", "image/png", "image/svg+xml"}
)

// validateOperatorHub checks what OperatorHub needs to list the operator.
func validateOperatorHub(b *bundle) []finding {
	var findings []finding
	csv := b.csv
	if csv.Spec.Provider.Name == "" {
		findings = append(findings, errorf("spec.provider.name is empty"))
	}
	if len(csv.Spec.Maintainers) == 0 {
		findings = append(findings, warningf("spec.maintainers is empty"))
	}
	for _, maintainer := range csv.Spec.Maintainers {
		if maintainer.Name == "" || maintainer.Email == "" {
			findings = append(findings, errorf("maintainer %+v needs both a name and an email", maintainer))
		}
		if _, err := mail.ParseAddress(maintainer.Email); maintainer.Email != "" && err != nil {
			findings = append(findings, errorf("maintainer email %q is invalid: %v", maintainer.Email, err))
		}
	}
	for _, link := range append([]operatorsv1alpha1.AppLink{csv.Spec.Provider}, csv.Spec.Links...) {
		if link.URL == "" {
			continue
		}
		if parsed, err := url.ParseRequestURI(link.URL); err != nil || parsed.Scheme != "https" {
			findings = append(findings, errorf("link %q has an invalid or non-https URL %q", link.Name, link.URL))
		}
	}
	for _, link := range csv.Spec.Links {
		if link.Name == "" || link.URL == "" {
			findings = append(findings, errorf("link %+v needs both a name and a URL", link))
		}
	}

	if capability, found := csv.Annotations["capabilities"]; !found || !slices.Contains(validCapabilities, capability) {
		findings = append(findings, errorf("annotation capabilities %q is not one of %q", capability, validCapabilities))
	}
	categories, found := csv.Annotations["categories"]
	if !found {
		findings = append(findings, warningf("annotation categories is missing"))
	}
	for category := range strings.SplitSeq(categories, ",") {
		if found && !slices.Contains(validCategories, strings.TrimSpace(category)) {
			findings = append(findings, errorf("category %q is not one of OperatorHub's categories", category))
		}
	}
	if csv.Annotations["description"] == "" {
		findings = append(findings, warningf("annotation description (the short description on OperatorHub's tile) is empty"))
	}
	if strings.TrimSpace(csv.Spec.Description) == "" {
		findings = append(findings, errorf("spec.description is empty"))
	}
	if len(csv.Spec.Keywords) == 0 {
		findings = append(findings, warningf("spec.keywords is empty"))
	}
	if csv.Spec.Maturity == "" {
		findings = append(findings, warningf("spec.maturity is empty"))
	}

	if csv.Spec.Version.Equals(semver.Version{}) {
		findings = append(findings, errorf("spec.version is not set"))
	}
	if !strings.HasSuffix(csv.Name, ".v"+csv.Spec.Version.String()) {
		findings = append(findings, warningf("CSV name %q does not follow <package>.v<spec.version>", csv.Name))
	}
	if strings.TrimSpace(csv.Spec.MinKubeVersion) == "" {
		findings = append(findings, warningf("spec.minKubeVersion is empty, which allows installing on any Kubernetes version"))
	} else if _, err := semver.ParseTolerant(csv.Spec.MinKubeVersion); err != nil {
		findings = append(findings, errorf("spec.minKubeVersion %q is not a version: %v", csv.Spec.MinKubeVersion, err))
	}
	findings = append(findings, checkIcon(csv.Spec.Icon)...)
	return findings
}

func checkIcon(icons []operatorsv1alpha1.Icon) []finding {
	if len(icons) == 0 {
		return []finding{warningf("spec.icon is empty")}
	}
	if len(icons) != 1 {
		return []finding{errorf("spec.icon has %d entries, want 1", len(icons))}
	}
	icon := icons[0]
	if !slices.Contains(validIconMediaTypes, icon.MediaType) {
		return []finding{errorf("spec.icon mediatype %q is not one of %q", icon.MediaType, validIconMediaTypes)}
	}
	data, err := base64.StdEncoding.DecodeString(icon.Data)
	if err != nil || len(data) == 0 {
		return []finding{errorf("spec.icon base64data is not valid base64 (%v)", err)}
	}
	if icon.MediaType == "image/svg+xml" {
		var root struct {
			XMLName xml.Name
		}
		if err := xml.Unmarshal(data, &root); err != nil || root.XMLName.Local != "svg" {
			return []finding{errorf("spec.icon is not an SVG document (root %q, error %v)", root.XMLName.Local, err)}
		}
	}
	return nil
}

// validateGoodPractices checks the operator-framework best practices: resource requests,
// CRD descriptions, channel names, no permission to create CRDs, and the CSV name length.
func validateGoodPractices(b *bundle) []finding {
	var findings []finding
	csv := b.csv
	for _, deployment := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, container := range deployment.Spec.Template.Spec.Containers {
			requests := container.Resources.Requests
			if requests.Cpu().IsZero() || requests.Memory().IsZero() {
				findings = append(findings, warningf("container %s of deployment %s requests no CPU or no memory", container.Name, deployment.Name))
			}
		}
	}
	for _, crd := range slices.Concat(csv.Spec.CustomResourceDefinitions.Owned, csv.Spec.CustomResourceDefinitions.Required) {
		if crd.Description == "" {
			findings = append(findings, warningf("CRD %s has an empty description", crd.Name))
		}
	}

	channels := strings.Split(b.annotations[annotationPrefix+"channels.v1"], ",")
	channels = append(channels, b.annotations[annotationPrefix+"channel.default.v1"])
	for _, channel := range channels {
		channel = strings.TrimSpace(channel)
		if channel != "" && !strings.HasPrefix(channel, "candidate") && !strings.HasPrefix(channel, "stable") && !strings.HasPrefix(channel, "fast") {
			findings = append(findings, warningf("channel %q does not follow the candidate/stable/fast naming convention", channel))
		}
	}

	strategy := csv.Spec.InstallStrategy.StrategySpec
	for _, permission := range slices.Concat(strategy.Permissions, strategy.ClusterPermissions) {
		for _, rule := range permission.Rules {
			if matchesAny(rule.APIGroups, "apiextensions.k8s.io", "*") && matchesAny(rule.Resources, "customresourcedefinitions", "*") &&
				matchesAny(rule.Verbs, "create", "patch", "*") {
				findings = append(findings, warningf("ServiceAccount %s may create CustomResourceDefinitions; OLM should manage CRDs", permission.ServiceAccountName))
			}
		}
	}
	if len(csv.Name) > validation.DNS1123LabelMaxLength {
		findings = append(findings, warningf("CSV name %q is longer than 63 characters, so it does not fit a label value", csv.Name))
	}
	return findings
}

func matchesAny(values []string, wanted ...string) bool {
	for _, value := range values {
		if slices.Contains(wanted, value) {
			return true
		}
	}
	return false
}

// removedAPIs are API versions that Kubernetes stopped serving, with the release that
// removed them, from the Kubernetes deprecated API migration guide
// (https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
var removedAPIs = map[schema.GroupVersionKind]string{}

func init() {
	add := func(release, groupVersion string, kinds ...string) {
		gv, err := schema.ParseGroupVersion(groupVersion)
		if err != nil {
			panic(err)
		}
		for _, kind := range kinds {
			removedAPIs[gv.WithKind(kind)] = release
		}
	}
	add("1.16", "extensions/v1beta1", "Deployment", "DaemonSet", "ReplicaSet", "NetworkPolicy")
	add("1.16", "apps/v1beta1", "Deployment", "StatefulSet", "ReplicaSet")
	add("1.16", "apps/v1beta2", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")

	add("1.22", "admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
	add("1.22", "apiextensions.k8s.io/v1beta1", "CustomResourceDefinition")
	add("1.22", "apiregistration.k8s.io/v1beta1", "APIService")
	add("1.22", "authentication.k8s.io/v1beta1", "TokenReview")
	add("1.22", "authorization.k8s.io/v1beta1", "SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview")
	add("1.22", "certificates.k8s.io/v1beta1", "CertificateSigningRequest")
	add("1.22", "coordination.k8s.io/v1beta1", "Lease")
	add("1.22", "extensions/v1beta1", "Ingress")
	add("1.22", "networking.k8s.io/v1beta1", "Ingress", "IngressClass")
	add("1.22", "rbac.authorization.k8s.io/v1beta1", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
	add("1.22", "scheduling.k8s.io/v1beta1", "PriorityClass")
	add("1.22", "storage.k8s.io/v1beta1", "CSIDriver", "CSINode", "StorageClass", "VolumeAttachment")

	add("1.25", "batch/v1beta1", "CronJob")
	add("1.25", "discovery.k8s.io/v1beta1", "EndpointSlice")
	add("1.25", "events.k8s.io/v1beta1", "Event")
	add("1.25", "autoscaling/v2beta1", "HorizontalPodAutoscaler")
	add("1.25", "policy/v1beta1", "PodDisruptionBudget", "PodSecurityPolicy")
	add("1.25", "node.k8s.io/v1beta1", "RuntimeClass")

	add("1.26", "flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "PriorityLevelConfiguration")
	add("1.26", "autoscaling/v2beta2", "HorizontalPodAutoscaler")
	add("1.27", "storage.k8s.io/v1beta1", "CSIStorageCapacity")
	add("1.29", "flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "PriorityLevelConfiguration")
	add("1.32", "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "PriorityLevelConfiguration")
}

// validateDeprecatedAPIs reports every manifest and example of an API version that
// Kubernetes no longer serves.
func validateDeprecatedAPIs(b *bundle) []finding {
	var findings []finding
	for _, object := range b.objects {
		if release, removed := removedAPIs[object.GroupVersionKind()]; removed {
			findings = append(findings, errorf("%s %s uses %s, which Kubernetes %s stopped serving", object.GetKind(), object.GetName(), object.GetAPIVersion(), release))
		}
	}
	examples, err := decodeExamples(b.csv)
	if err != nil {
		// validateCSV reports the parse error.
		return findings
	}
	for _, example := range examples {
		if release, removed := removedAPIs[example.GroupVersionKind()]; removed {
			findings = append(findings, errorf("alm-examples uses %s %s, which Kubernetes %s stopped serving", example.GetAPIVersion(), example.GetKind(), release))
		}
	}
	return findings
}

// wildcard matches "*" and the forms with a subresource or resource name, such as "*/status".
var wildcard = regexp.MustCompile(`(^|/)\*($|/)`)

// validatePermissions is this project's own rule, beyond the operatorframework suite: no
// wildcard API group, resource or verb in any permission the CSV grants.
func validatePermissions(b *bundle) []finding {
	var findings []finding
	strategy := b.csv.Spec.InstallStrategy.StrategySpec
	for _, permission := range slices.Concat(strategy.Permissions, strategy.ClusterPermissions) {
		for _, rule := range permission.Rules {
			for _, value := range slices.Concat(rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames) {
				if wildcard.MatchString(value) {
					findings = append(findings, errorf("ServiceAccount %s has a wildcard %q in rule %+v", permission.ServiceAccountName, value, rule))
				}
			}
		}
	}
	return findings
}
