package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// pollTimeout bounds each wait for a controller of kube-controller-manager.
const pollTimeout = 90 * time.Second

// kubernetesVersion is the version hack/install-control-plane.sh builds.
const kubernetesVersion = "v1.37.2"

func TestControlPlane(t *testing.T) {
	SkipWithoutBinaries(t)
	ctx := t.Context()

	workDir := t.TempDir()
	cp, err := Start(ctx, Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		WorkDir:           workDir,
		ControllerManager: true,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// Runs after the explicit Stop below too, which is safe because Stop is
	// idempotent.
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, workDir)
		}
		if err := cp.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	clientset, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatalf("creating clientset: %v", err)
	}

	t.Run("writes the admin kubeconfig", func(t *testing.T) {
		if want := filepath.Join(workDir, "kubeconfig"); cp.KubeconfigPath != want {
			t.Errorf("KubeconfigPath = %q, want %q", cp.KubeconfigPath, want)
		}
		out := runKubectl(t, cp, cp.KubeconfigPath, "auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}")
		if !strings.Contains(out, "system:masters") {
			t.Errorf("groups of the admin kubeconfig user = %s, want system:masters among them", out)
		}
	})

	t.Run("serves ClusterTrustBundles in certificates.k8s.io/v1", func(t *testing.T) {
		requireResource(t, clientset, "certificates.k8s.io/v1", "clustertrustbundles")
	})

	t.Run("installs the CRDs", func(t *testing.T) {
		requireResource(t, clientset, "certs.dnscert.io/v1alpha1", "dnscertificates")
	})

	t.Run("kubectl reports the built version", func(t *testing.T) {
		out := runKubectl(t, cp, cp.KubeconfigPath, "version", "-o", "json")
		var version struct {
			ClientVersion struct{ GitVersion string } `json:"clientVersion"`
			ServerVersion struct{ GitVersion string } `json:"serverVersion"`
		}
		if err := json.Unmarshal([]byte(out), &version); err != nil {
			t.Fatalf("parsing kubectl version output %q: %v", out, err)
		}
		if version.ClientVersion.GitVersion != kubernetesVersion {
			t.Errorf("client version = %q, want %q", version.ClientVersion.GitVersion, kubernetesVersion)
		}
		if version.ServerVersion.GitVersion != kubernetesVersion {
			t.Errorf("server version = %q, want %q", version.ServerVersion.GitVersion, kubernetesVersion)
		}
	})

	t.Run("garbage collects an owned Secret", func(t *testing.T) {
		ns := createNamespace(t, clientset, "gc")
		owner, err := clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "owner"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating owner ConfigMap: %v", err)
		}
		_, err = clientset.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: "owned",
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1",
					Kind:       "ConfigMap",
					Name:       owner.Name,
					UID:        owner.UID,
				}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating owned Secret: %v", err)
		}

		if err := clientset.CoreV1().ConfigMaps(ns).Delete(ctx, owner.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting owner ConfigMap: %v", err)
		}
		waitFor(t, "the owned Secret to be deleted", func(ctx context.Context) (bool, error) {
			_, err := clientset.CoreV1().Secrets(ns).Get(ctx, "owned", metav1.GetOptions{})
			return apierrors.IsNotFound(err), ignoreNotFound(err)
		})
	})

	t.Run("publishes kube-root-ca.crt", func(t *testing.T) {
		ns := createNamespace(t, clientset, "root-ca")
		var configMap *corev1.ConfigMap
		waitFor(t, "the kube-root-ca.crt ConfigMap", func(ctx context.Context) (bool, error) {
			var err error
			configMap, err = clientset.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err == nil, ignoreNotFound(err)
		})
		if got := configMap.Data["ca.crt"]; got != string(cp.Config.CAData) {
			t.Errorf("kube-root-ca.crt ca.crt is not the API server's CA certificate:\n%s", got)
		}
	})

	t.Run("completes a namespace deletion", func(t *testing.T) {
		deleteNamespaceWithContent(t, clientset, "delete-me")
	})

	t.Run("adds a client certificate user", func(t *testing.T) {
		path, cfg, err := cp.AddUser("system:serviceaccount:demo:reader", []string{"demo-group"})
		if err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		if dir := filepath.Dir(path); dir != filepath.Join(workDir, "users") {
			t.Errorf("kubeconfig directory = %q, want %q", dir, filepath.Join(workDir, "users"))
		}
		userClient, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatalf("creating user clientset: %v", err)
		}
		review, err := userClient.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating SelfSubjectReview: %v", err)
		}
		if got := review.Status.UserInfo.Username; got != "system:serviceaccount:demo:reader" {
			t.Errorf("user name = %q, want system:serviceaccount:demo:reader", got)
		}
		if groups := review.Status.UserInfo.Groups; !slices.Contains(groups, "demo-group") {
			t.Errorf("groups = %v, want demo-group among them", groups)
		}
		// No RBAC rule grants this user anything.
		_, err = userClient.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets as an unprivileged user: got error %v, want Forbidden", err)
		}
		out := runKubectl(t, cp, path, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if out != "system:serviceaccount:demo:reader" {
			t.Errorf("kubectl auth whoami with the user kubeconfig = %q, want system:serviceaccount:demo:reader", out)
		}
	})

	t.Run("restarts kube-apiserver keeping etcd", func(t *testing.T) {
		ns := createNamespace(t, clientset, "restart")
		if _, err := clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "kept"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ConfigMap: %v", err)
		}

		if err := cp.RestartAPIServer(); err != nil {
			t.Fatalf("RestartAPIServer: %v", err)
		}

		if _, err := clientset.CoreV1().ConfigMaps(ns).Get(ctx, "kept", metav1.GetOptions{}); err != nil {
			t.Errorf("getting the ConfigMap created before the restart: %v", err)
		}
		// kube-controller-manager reconnects, so its controllers keep working.
		deleteNamespaceWithContent(t, clientset, "after-restart")
	})

	t.Run("stops every process", func(t *testing.T) {
		pids, err := cp.PIDs()
		if err != nil {
			t.Fatalf("PIDs: %v", err)
		}
		if len(pids) != 3 {
			t.Errorf("PIDs = %v, want 3 (etcd, kube-apiserver, kube-controller-manager)", pids)
		}

		if err := cp.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}

		children, err := childProcesses(os.Getpid())
		if err != nil {
			t.Fatalf("listing child processes: %v", err)
		}
		for _, child := range children {
			t.Errorf("child process %d (%s) is still running after Stop", child.pid, child.exe)
		}
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("process %d still exists after Stop (stat error: %v)", pid, err)
			}
		}
		if err := cp.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

func TestStartWithoutBinaries(t *testing.T) {
	_, err := Start(t.Context(), Options{BinaryDir: t.TempDir()})
	if err == nil {
		t.Fatal("Start with an empty binary directory succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "install-control-plane.sh") {
		t.Errorf("error %q does not say how to build the binaries", err)
	}
}

func TestParentPID(t *testing.T) {
	tests := []struct {
		name   string
		stat   string
		want   int
		wantOK bool
	}{
		{name: "plain command", stat: "42 (etcd) S 7 42 42 0", want: 7, wantOK: true},
		{name: "command with spaces and parenthesis", stat: "42 (a) b (c) R 9 1 1", want: 9, wantOK: true},
		{name: "no parenthesis", stat: "42 etcd S 7", wantOK: false},
		{name: "truncated", stat: "42 (etcd) S", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parentPID([]byte(tt.stat))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("parentPID(%q) = %d, %t; want %d, %t", tt.stat, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func requireResource(t *testing.T, clientset kubernetes.Interface, groupVersion, resource string) {
	t.Helper()
	list, err := clientset.Discovery().ServerResourcesForGroupVersion(groupVersion)
	if err != nil {
		t.Fatalf("discovering %s: %v", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return
		}
	}
	t.Errorf("%s does not serve %s", groupVersion, resource)
}

func createNamespace(t *testing.T, clientset kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := clientset.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// deleteNamespaceWithContent creates a namespace holding a ConfigMap, deletes
// it and waits until it is gone, which needs the namespace controller to
// empty it and remove the kubernetes finalizer.
func deleteNamespaceWithContent(t *testing.T, clientset kubernetes.Interface, prefix string) {
	t.Helper()
	ctx := t.Context()
	ns := createNamespace(t, clientset, prefix)
	if _, err := clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "content"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ConfigMap: %v", err)
	}
	if err := clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting namespace %s: %v", ns, err)
	}
	waitFor(t, "namespace "+ns+" to be deleted", func(ctx context.Context) (bool, error) {
		_, err := clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
}

// waitFor polls condition until it returns true, failing the test after
// pollTimeout or on an error from condition.
func waitFor(t *testing.T, what string, condition wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, pollTimeout, true, condition); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func runKubectl(t *testing.T, cp *ControlPlane, kubeconfig string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cp.KubectlPath(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// logTails prints the end of each component log, to explain a failure.
func logTails(t *testing.T, workDir string) {
	logs, _ := filepath.Glob(filepath.Join(workDir, "*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Logf("reading %s: %v", path, err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("last lines of %s:\n%s", filepath.Base(path), strings.Join(lines, "\n"))
	}
}
