package e2e

import (
	"context"
	"sort"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// csrRecorder records the name of every CSR created that matches a label selector.
type csrRecorder struct {
	mu    sync.Mutex
	names map[string]bool
}

// recordCSRs starts watching CSRs until the spec ends.
func recordCSRs(labelSelector string) *csrRecorder {
	clientset, err := kubernetes.NewForConfig(cluster.Config)
	Expect(err).NotTo(HaveOccurred())
	watcher, err := clientset.CertificatesV1().CertificateSigningRequests().Watch(context.Background(), metav1.ListOptions{LabelSelector: labelSelector})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(watcher.Stop)

	recorder := &csrRecorder{names: map[string]bool{}}
	go func() {
		for event := range watcher.ResultChan() {
			csr, ok := event.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok || event.Type != watch.Added {
				continue
			}
			recorder.mu.Lock()
			recorder.names[csr.Name] = true
			recorder.mu.Unlock()
		}
	}()
	return recorder
}

// created returns the names of the CSRs seen so far, sorted.
func (r *csrRecorder) created() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.names))
	for name := range r.names {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// secretRecorder records every version of one Secret.
type secretRecorder struct {
	mu       sync.Mutex
	versions []*corev1.Secret
}

// recordSecret starts watching a Secret until the spec ends.
func recordSecret(namespace, name string) *secretRecorder {
	clientset, err := kubernetes.NewForConfig(cluster.Config)
	Expect(err).NotTo(HaveOccurred())
	watcher, err := clientset.CoreV1().Secrets(namespace).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(watcher.Stop)

	recorder := &secretRecorder{}
	go func() {
		for event := range watcher.ResultChan() {
			secret, ok := event.Object.(*corev1.Secret)
			if !ok || event.Type == watch.Deleted {
				continue
			}
			recorder.mu.Lock()
			recorder.versions = append(recorder.versions, secret)
			recorder.mu.Unlock()
		}
	}()
	return recorder
}

// seen returns the versions recorded so far.
func (r *secretRecorder) seen() []*corev1.Secret {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*corev1.Secret(nil), r.versions...)
}
