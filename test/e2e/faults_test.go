package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/test/testsigner"
)

// outstandingTracker watches the CSRs of a namespace and records, per DNSCertificate, how many
// existed at the same time at most, and how many were created in all.
type outstandingTracker struct {
	mu      sync.Mutex
	live    map[string]map[string]bool
	maxLive map[string]int
	created int
}

func trackOutstanding(namespace string) *outstandingTracker {
	clientset, err := kubernetes.NewForConfig(cluster.Config)
	Expect(err).NotTo(HaveOccurred())
	watcher, err := clientset.CertificatesV1().CertificateSigningRequests().Watch(context.Background(),
		metav1.ListOptions{LabelSelector: certsv1alpha1.LabelDNSCertificateNamespace + "=" + namespace})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(watcher.Stop)

	tracker := &outstandingTracker{live: map[string]map[string]bool{}, maxLive: map[string]int{}}
	go func() {
		for event := range watcher.ResultChan() {
			csr, ok := event.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok {
				continue
			}
			owner := csr.Labels[certsv1alpha1.LabelDNSCertificate]
			tracker.mu.Lock()
			if tracker.live[owner] == nil {
				tracker.live[owner] = map[string]bool{}
			}
			switch event.Type {
			case watch.Added:
				tracker.created++
				tracker.live[owner][csr.Name] = true
				tracker.maxLive[owner] = max(tracker.maxLive[owner], len(tracker.live[owner]))
			case watch.Deleted:
				delete(tracker.live[owner], csr.Name)
			}
			tracker.mu.Unlock()
		}
	}()
	return tracker
}

func (t *outstandingTracker) totals() (created, worst int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, count := range t.maxLive {
		worst = max(worst, count)
	}
	return t.created, worst
}

// applyBurst creates count DNSCertificates in one kubectl apply.
func applyBurst(namespace, signerName string, count int) {
	manifests := make([]string, 0, count)
	for i := range count {
		name := fmt.Sprintf("burst-%03d", i)
		manifests = append(manifests, certificateManifest(namespace, name, name+"-tls", signerName, name+".example"))
	}
	kubectlApply(strings.Join(manifests, "---\n"))
}

// waitAllReady waits until every DNSCertificate of the namespace is Ready and nothing is left behind.
func waitAllReady(namespace string, timeout time.Duration) {
	kubectl("wait", "--for=condition=Ready", "dnscertificate", "--all", "-n", namespace, fmt.Sprintf("--timeout=%ds", int(timeout.Seconds())))
	c := adminClient()
	Eventually(func(g Gomega) {
		var csrs certificatesv1.CertificateSigningRequestList
		g.Expect(c.List(ctx(), &csrs)).To(Succeed())
		for _, csr := range csrs.Items {
			g.Expect(csr.Labels[certsv1alpha1.LabelDNSCertificateNamespace]).NotTo(Equal(namespace), "CSR %s is left behind", csr.Name)
		}
		g.Expect(pendingKeySecrets(c, namespace)).To(BeEmpty())
	}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())
}

var _ = Describe("Faults", Label("faults"), Ordered, func() {
	BeforeAll(func() {
		if os.Getenv("DNSCERT_FAULTS") != "1" {
			Skip("fault tests run with `make test-faults` (DNSCERT_FAULTS=1)")
		}
	})

	AfterEach(func() {
		// Each fault test leaves a single operator with the default flags.
		restartOperator()
	})

	It("survives five SIGKILLs during a burst of 200 issuances", func() {
		const count, kills = 200, 5
		namespace := createNamespace()
		tracker := trackOutstanding(namespace)
		applyBurst(namespace, "", count)

		for kill := range kills {
			// The fault lands at a random moment of the burst.
			<-time.After(time.Duration(200+rand.IntN(1300)) * time.Millisecond)
			operator.kill()
			GinkgoWriter.Printf("kill %d\n", kill+1)
			operator = startOperator()
		}
		waitAllReady(namespace, 3*time.Minute)

		created, worst := tracker.totals()
		GinkgoWriter.Printf("CSRs created for %d certificates: %d (extra: %d after %d kills)\n", count, created, created-count, kills)
		Expect(created-count).To(BeNumerically("<=", kills), "at most one extra CSR per kill")
		Expect(worst).To(Equal(1), "never two outstanding CSRs for one DNSCertificate")
	})

	It("recovers from a kube-apiserver restart in the middle of a burst", func() {
		namespace := createNamespace()
		applyBurst(namespace, "", 100)
		Expect(cluster.RestartAPIServer()).To(Succeed())
		waitAllReady(namespace, 3*time.Minute)
		Expect(operator.done).NotTo(BeClosed(), "the operator kept running")
	})

	It("fails over to a second replica when the leader is killed", func() {
		restartOperator("--leader-elect")
		leader := operator
		standby := startOperator("--leader-elect")
		DeferCleanup(standby.stop)

		namespace := createNamespace()
		tracker := trackOutstanding(namespace)
		applyBurst(namespace, "", 100)
		Eventually(func() int { created, _ := tracker.totals(); return created }).
			WithTimeout(e2eTimeout).WithPolling(10 * time.Millisecond).Should(BeNumerically(">", 10))

		killed := time.Now()
		leader.kill()
		operator = standby
		waitAllReady(namespace, 3*time.Minute)
		GinkgoWriter.Printf("all Ready %.1f s after the leader was killed\n", time.Since(killed).Seconds())

		_, worst := tracker.totals()
		Expect(worst).To(Equal(1), "never two outstanding CSRs for one DNSCertificate")
	})

	It("completes without help after the signer stalls", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		applyBurst(namespace, signer.Name, 20)
		c := adminClient()
		waitForReason(c, namespace, "burst-019", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)

		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())
		waitAllReady(namespace, 2*time.Minute)
	})
})
