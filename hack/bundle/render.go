package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// renderKustomization runs `kubectl kustomize DIR` and returns the rendered objects in
// their output order.
func renderKustomization(kubectl, dir string) ([]*unstructured.Unstructured, error) {
	command := exec.Command(kubectl, "kustomize", dir)
	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr
	if err := command.Run(); err != nil {
		return nil, fmt.Errorf("running %s kustomize %s: %w: %s", kubectl, dir, err, strings.TrimSpace(stderr.String()))
	}
	objects, err := parseObjects(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("parsing the output of kubectl kustomize %s: %w", dir, err)
	}
	return objects, nil
}

// parseObjects splits a multi-document YAML stream into objects, skipping empty documents.
func parseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objects []*unstructured.Unstructured
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, err
		}
		var content map[string]any
		if err := yaml.Unmarshal(document, &content); err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objects)+1, err)
		}
		if content == nil {
			continue
		}
		object := &unstructured.Unstructured{Object: content}
		if object.GetAPIVersion() == "" || object.GetKind() == "" {
			return nil, fmt.Errorf("document %d has no apiVersion or kind", len(objects)+1)
		}
		objects = append(objects, object)
	}
}

// convertObject decodes an unstructured object strictly into a typed one, so that a field
// the type does not know is an error instead of being dropped from the bundle.
func convertObject(object *unstructured.Unstructured, typed any) error {
	data, err := json.Marshal(object.Object)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, typed); err != nil {
		return fmt.Errorf("decoding %s %s: %w", object.GetKind(), object.GetName(), err)
	}
	return nil
}

// installObjects are the objects rendered from config/default, sorted by what OLM does
// with them.
type installObjects struct {
	namespace           string
	crds                []*unstructured.Unstructured
	serviceAccounts     map[string]bool
	deployments         []appsv1.Deployment
	clusterRoles        map[string]rbacv1.ClusterRole
	roles               map[string]rbacv1.Role
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	roleBindings        []rbacv1.RoleBinding
}

// classifyObjects sorts the rendered objects by kind. Kinds that OLM cannot install from
// a bundle for this operator are rejected, so that nothing is silently left out.
func classifyObjects(objects []*unstructured.Unstructured) (*installObjects, error) {
	install := &installObjects{
		serviceAccounts: map[string]bool{},
		clusterRoles:    map[string]rbacv1.ClusterRole{},
		roles:           map[string]rbacv1.Role{},
	}
	for _, object := range objects {
		gvk := object.GroupVersionKind()
		switch gvk.GroupKind().String() {
		case "Namespace":
			// OLM installs into the namespace of the OperatorGroup the user picks.
			if install.namespace != "" {
				return nil, fmt.Errorf("more than one Namespace rendered: %s and %s", install.namespace, object.GetName())
			}
			install.namespace = object.GetName()
		case "CustomResourceDefinition.apiextensions.k8s.io":
			if gvk.Version != "v1" {
				return nil, fmt.Errorf("CustomResourceDefinition %s uses %s; only apiextensions.k8s.io/v1 is served on Kubernetes 1.22 and newer", object.GetName(), object.GetAPIVersion())
			}
			install.crds = append(install.crds, object)
		case "ServiceAccount":
			install.serviceAccounts[object.GetName()] = true
		case "Deployment.apps":
			var deployment appsv1.Deployment
			if err := convertObject(object, &deployment); err != nil {
				return nil, err
			}
			install.deployments = append(install.deployments, deployment)
		case "ClusterRole.rbac.authorization.k8s.io":
			var role rbacv1.ClusterRole
			if err := convertObject(object, &role); err != nil {
				return nil, err
			}
			install.clusterRoles[role.Name] = role
		case "Role.rbac.authorization.k8s.io":
			var role rbacv1.Role
			if err := convertObject(object, &role); err != nil {
				return nil, err
			}
			install.roles[role.Name] = role
		case "ClusterRoleBinding.rbac.authorization.k8s.io":
			var binding rbacv1.ClusterRoleBinding
			if err := convertObject(object, &binding); err != nil {
				return nil, err
			}
			install.clusterRoleBindings = append(install.clusterRoleBindings, binding)
		case "RoleBinding.rbac.authorization.k8s.io":
			var binding rbacv1.RoleBinding
			if err := convertObject(object, &binding); err != nil {
				return nil, err
			}
			install.roleBindings = append(install.roleBindings, binding)
		default:
			return nil, fmt.Errorf("%s %s is rendered by config/default, but the bundle generator does not know how OLM should install it", object.GetObjectKind().GroupVersionKind(), object.GetName())
		}
	}

	if len(install.deployments) == 0 {
		return nil, errors.New("config/default renders no Deployment")
	}
	if len(install.crds) == 0 {
		return nil, errors.New("config/default renders no CustomResourceDefinition")
	}
	for _, deployment := range install.deployments {
		account := deployment.Spec.Template.Spec.ServiceAccountName
		if !install.serviceAccounts[account] {
			return nil, fmt.Errorf("Deployment %s runs as ServiceAccount %q, which config/default does not render", deployment.Name, account)
		}
	}
	return install, nil
}

// permissions are the CSV's install-time RBAC: rules that OLM grants to a ServiceAccount
// cluster-wide (clusterPermissions) or in the install namespace (permissions).
type permissions struct {
	cluster    map[string][]rbacv1.PolicyRule
	namespaced map[string][]rbacv1.PolicyRule
}

// bindPermissions turns each binding of a rendered role to the operator's ServiceAccounts
// into CSV permissions. A CSV cannot express a binding to anyone else or to a role that is
// not rendered, so those are errors. A role that nothing binds is an error too.
func bindPermissions(install *installObjects) (*permissions, error) {
	result := &permissions{cluster: map[string][]rbacv1.PolicyRule{}, namespaced: map[string][]rbacv1.PolicyRule{}}
	boundClusterRoles := map[string]bool{}
	boundRoles := map[string]bool{}

	clusterBindings := append([]rbacv1.ClusterRoleBinding(nil), install.clusterRoleBindings...)
	sort.Slice(clusterBindings, func(i, j int) bool { return clusterBindings[i].Name < clusterBindings[j].Name })
	for _, binding := range clusterBindings {
		accounts, err := boundServiceAccounts(install, "ClusterRoleBinding "+binding.Name, binding.Subjects)
		if err != nil {
			return nil, err
		}
		role, found := install.clusterRoles[binding.RoleRef.Name]
		if binding.RoleRef.Kind != "ClusterRole" || !found {
			return nil, fmt.Errorf("ClusterRoleBinding %s refers to %s %s, which config/default does not render", binding.Name, binding.RoleRef.Kind, binding.RoleRef.Name)
		}
		boundClusterRoles[role.Name] = true
		for _, account := range accounts {
			result.cluster[account] = append(result.cluster[account], role.Rules...)
		}
	}

	namespacedBindings := append([]rbacv1.RoleBinding(nil), install.roleBindings...)
	sort.Slice(namespacedBindings, func(i, j int) bool { return namespacedBindings[i].Name < namespacedBindings[j].Name })
	for _, binding := range namespacedBindings {
		accounts, err := boundServiceAccounts(install, "RoleBinding "+binding.Name, binding.Subjects)
		if err != nil {
			return nil, err
		}
		var rules []rbacv1.PolicyRule
		switch binding.RoleRef.Kind {
		case "Role":
			role, found := install.roles[binding.RoleRef.Name]
			if !found {
				return nil, fmt.Errorf("RoleBinding %s refers to Role %s, which config/default does not render", binding.Name, binding.RoleRef.Name)
			}
			boundRoles[role.Name] = true
			rules = role.Rules
		case "ClusterRole":
			role, found := install.clusterRoles[binding.RoleRef.Name]
			if !found {
				return nil, fmt.Errorf("RoleBinding %s refers to ClusterRole %s, which config/default does not render", binding.Name, binding.RoleRef.Name)
			}
			boundClusterRoles[role.Name] = true
			rules = role.Rules
		default:
			return nil, fmt.Errorf("RoleBinding %s refers to an unknown role kind %q", binding.Name, binding.RoleRef.Kind)
		}
		for _, account := range accounts {
			result.namespaced[account] = append(result.namespaced[account], rules...)
		}
	}

	for name := range install.clusterRoles {
		if !boundClusterRoles[name] {
			return nil, fmt.Errorf("ClusterRole %s is not bound to the operator's ServiceAccount; bind it or remove it from config/", name)
		}
	}
	for name := range install.roles {
		if !boundRoles[name] {
			return nil, fmt.Errorf("Role %s is not bound to the operator's ServiceAccount; bind it or remove it from config/", name)
		}
	}
	return result, nil
}

// boundServiceAccounts returns the names of the subjects, which must all be ServiceAccounts
// rendered into the install namespace.
func boundServiceAccounts(install *installObjects, binding string, subjects []rbacv1.Subject) ([]string, error) {
	if len(subjects) == 0 {
		return nil, fmt.Errorf("%s has no subjects", binding)
	}
	accounts := make([]string, 0, len(subjects))
	for _, subject := range subjects {
		if subject.Kind != rbacv1.ServiceAccountKind || !install.serviceAccounts[subject.Name] || subject.Namespace != install.namespace {
			return nil, fmt.Errorf("%s binds %s %s/%s; a CSV can grant permissions only to the operator's ServiceAccounts in the install namespace %s",
				binding, subject.Kind, subject.Namespace, subject.Name, install.namespace)
		}
		accounts = append(accounts, subject.Name)
	}
	return accounts, nil
}

// crdFileName returns the bundle file name of a CRD, <group>_<plural>.yaml, as
// controller-gen and operator-sdk name them.
func crdFileName(crd *unstructured.Unstructured) string {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	return filepath.ToSlash(filepath.Join(manifestsDir, group+"_"+plural+".yaml"))
}
