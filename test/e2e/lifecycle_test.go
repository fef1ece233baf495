package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/test/testsigner"
)

// grantApproval lets the operator approve CSRs for a signer name (or "domain/*").
func grantApproval(name, signerName string) {
	kubectlApply(fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %[1]s
rules:
  - apiGroups: ["certificates.k8s.io"]
    resources: ["signers"]
    resourceNames: [%[2]q]
    verbs: ["approve"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: %[1]s
subjects:
  - kind: User
    name: %[3]s
`, name, signerName, operatorUser))
}

// csrSelector selects the CSRs of one DNSCertificate.
func csrSelector(namespace, name string) string {
	return fmt.Sprintf("%s=%s,%s=%s", certsv1alpha1.LabelDNSCertificate, name, certsv1alpha1.LabelDNSCertificateNamespace, namespace)
}

// expectCleanedUp checks that no CSR and no pending key Secret of a DNSCertificate remain.
func expectCleanedUp(c client.Client, namespace, name string) {
	Eventually(func(g Gomega) {
		g.Expect(csrsOf(c, namespace, name)).To(BeEmpty())
		g.Expect(pendingKeySecrets(c, namespace)).To(BeEmpty())
	}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())
}

// issuedEventNotes returns the notes of the Issued events of a DNSCertificate.
func issuedEventNotes(namespace, name string) string {
	return kubectl("get", "events", "-n", namespace, "--field-selector", "involvedObject.name="+name+",reason=Issued",
		"-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
}

var _ = Describe("Lifecycle", Ordered, func() {
	var c client.Client

	BeforeAll(func() {
		c = adminClient()
	})

	It("repairs a damaged Secret and never writes an inconsistent one", func() {
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", "", "web.example"))
		waitReady(c, namespace, "web")
		recorder := recordSecret(namespace, "web-tls")
		damaged := map[string]bool{}

		damages := []struct {
			name   string
			damage func() string
			reason string
		}{
			{"an empty tls.crt", func() string {
				return kubectl("patch", "secret", "web-tls", "-n", namespace, "--type", "merge", "-p", `{"data":{"tls.crt":""}}`,
					"-o", "jsonpath={.metadata.resourceVersion}")
			}, "tls.crt"},
			{"a removed key.pem", func() string {
				return kubectl("patch", "secret", "web-tls", "-n", namespace, "--type", "json", "-p", `[{"op":"remove","path":"/data/key.pem"}]`,
					"-o", "jsonpath={.metadata.resourceVersion}")
			}, "key.pem"},
			{"a replacement holding only tls.key", func() string {
				// The operator recreates a deleted Secret at once, so the replacement is made
				// while it is stopped, as a restore from a broken backup would.
				operator.stop()
				defer func() { operator = startOperator() }()
				current := &corev1.Secret{}
				Expect(c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: "web-tls"}, current)).To(Succeed())
				replacement := map[string]any{
					"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
					"metadata": map[string]any{
						"name": "web-tls", "namespace": namespace,
						"labels": current.Labels, "ownerReferences": current.OwnerReferences,
					},
					"data": map[string][]byte{"tls.key": current.Data["tls.key"]},
				}
				manifest, err := json.Marshal(replacement)
				Expect(err).NotTo(HaveOccurred())
				cmd := exec.Command(cluster.KubectlPath(), "replace", "--force", "-f", "-", "-o", "jsonpath={.metadata.resourceVersion}")
				cmd.Env = append(cmd.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
				cmd.Stdin = strings.NewReader(string(manifest))
				var stderr strings.Builder
				cmd.Stderr = &stderr
				output, err := cmd.Output()
				Expect(err).NotTo(HaveOccurred(), "kubectl replace: %s", stderr.String())
				// kubectl reports the deletion on stdout first; the resourceVersion comes last.
				fields := strings.Fields(string(output))
				return fields[len(fields)-1]
			}, "Secret type"},
		}

		for _, tc := range damages {
			By("repairing " + tc.name)
			before := &corev1.Secret{}
			Expect(c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: "web-tls"}, before)).To(Succeed())
			damaged[tc.damage()] = true

			Eventually(func(g Gomega) {
				secret := &corev1.Secret{}
				g.Expect(c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: "web-tls"}, secret)).To(Succeed())
				g.Expect(secretProblem(secret)).To(BeEmpty())
				g.Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
				g.Expect(serialOfSecret(secret)).NotTo(Equal(serialOfSecret(before)))
			}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())
			waitReady(c, namespace, "web")
			Expect(issuedEventNotes(namespace, "web")).To(ContainSubstring(tc.reason))
		}

		By("checking every version the operator wrote")
		for _, version := range recorder.seen() {
			if damaged[version.ResourceVersion] {
				continue
			}
			Expect(secretProblem(version)).To(BeEmpty(), "Secret version %s (damaged versions: %v)", version.ResourceVersion, damaged)
		}
		expectCleanedUp(c, namespace, "web")
	})

	It("gives a Secret named twice to one DNSCertificate with one CSR", func() {
		namespace := createNamespace()
		csrs := recordCSRs(certsv1alpha1.LabelDNSCertificateNamespace + "=" + namespace)
		kubectlApply(certificateManifest(namespace, "first", "shared-tls", "", "first.example") + "---\n" +
			certificateManifest(namespace, "second", "shared-tls", "", "second.example"))

		var winner, loser string
		Eventually(func(g Gomega) {
			first, second := getCertificate(c, namespace, "first"), getCertificate(c, namespace, "second")
			_, firstReason := conditionReason(first, certsv1alpha1.ConditionReady)
			_, secondReason := conditionReason(second, certsv1alpha1.ConditionReady)
			g.Expect([]string{firstReason, secondReason}).To(ConsistOf(certsv1alpha1.ReasonIssued, certsv1alpha1.ReasonSecretConflict))
			winner, loser = "first", "second"
			if secondReason == certsv1alpha1.ReasonIssued {
				winner, loser = "second", "first"
			}
		}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())

		conflicted := getCertificate(c, namespace, loser)
		Expect(findCondition(conflicted, certsv1alpha1.ConditionReady).Message).To(ContainSubstring(winner))
		secret := &corev1.Secret{}
		Expect(c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: "shared-tls"}, secret)).To(Succeed())
		Expect(metav1.GetControllerOf(secret).Name).To(Equal(winner))

		Consistently(func(g Gomega) {
			current := &corev1.Secret{}
			g.Expect(c.Get(ctx(), client.ObjectKey{Namespace: namespace, Name: "shared-tls"}, current)).To(Succeed())
			g.Expect(current.ResourceVersion).To(Equal(secret.ResourceVersion))
			_, reason := conditionReason(getCertificate(c, namespace, loser), certsv1alpha1.ConditionReady)
			g.Expect(reason).To(Equal(certsv1alpha1.ReasonSecretConflict))
		}).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Expect(csrs.created()).To(HaveLen(1), "one CSR between the two")
	})

	It("reports a failed request and keeps no CSR", func() {
		signer := startTestSigner(testsigner.Fail)
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		failed := waitForReason(c, namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonFailed)
		Expect(findCondition(failed, certsv1alpha1.ConditionReady).Message).To(ContainSubstring("the test signer fails this request"))
		expectCleanedUp(c, namespace, "web")
		Expect(kubectl("get", "events", "-n", namespace, "--field-selector", "reason=Failed", "-o", "name")).NotTo(BeEmpty())
	})

	It("stores no certificate that fails verification", func() {
		for _, mode := range []testsigner.Mode{testsigner.WrongKey, testsigner.WrongSANs} {
			By("answering with " + string(mode))
			signer := startTestSigner(mode)
			namespace := createNamespace()
			kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
			waitForReason(c, namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonInvalidCertificate)
			expectCleanedUp(c, namespace, "web")
			_, err := tryKubectl("get", "secret", "web-tls", "-n", namespace)
			Expect(err).To(HaveOccurred(), "no Secret was written")
		}
	})

	It("works from the lifetime the signer issued", func() {
		signer := startTestSigner(testsigner.Shorten)
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		ready := waitReady(c, namespace, "web")

		Expect(ready.Status.NotAfter.Time).To(BeTemporally("~", time.Now().Add(signer.ShortLifetime), 2*time.Minute))
		lifetime := ready.Status.NotAfter.Sub(ready.Status.NotBefore.Time)
		share := float64(ready.Status.RenewalTime.Sub(ready.Status.NotBefore.Time)) / float64(lifetime)
		Expect(share).To(BeNumerically(">=", 0.7))
		Expect(share).To(BeNumerically("<=", 0.9))
		Consistently(func() int64 { return getCertificate(c, namespace, "web").Status.Revision }).
			WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(int64(1)))
	})

	It("keeps one approved CSR when nobody signs, across two restarts", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		csrs := recordCSRs(csrSelector(namespace, "web"))
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)

		By("keeping the pending key in an owned, labelled Secret")
		keys := pendingKeySecrets(c, namespace)
		Expect(keys).To(HaveLen(1))
		Expect(keys[0].Labels).To(HaveKeyWithValue(certsv1alpha1.LabelDNSCertificate, "web"))
		owner := metav1.GetControllerOf(&keys[0])
		Expect(owner).NotTo(BeNil())
		Expect(owner.UID).To(Equal(getCertificate(c, namespace, "web").UID))

		restartOperator()
		operator.kill()
		operator = startOperator()
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		Consistently(func() []certificatesv1.CertificateSigningRequest { return csrsOf(c, namespace, "web") }).
			WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(HaveLen(1))
		Expect(csrs.created()).To(HaveLen(1))
	})

	It("resumes the same CSR after a crash right after creating it", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		csrs := recordCSRs(csrSelector(namespace, "web"))
		restartOperator("--auto-approve=false")
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForApproval)

		operator.kill()
		operator = startOperator()
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())

		waitReady(c, namespace, "web")
		expectCleanedUp(c, namespace, "web")
		Expect(csrs.created()).To(HaveLen(1))
	})

	It("resumes the same CSR after a crash right after approving it", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		csrs := recordCSRs(csrSelector(namespace, "web"))
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)

		operator.kill()
		operator = startOperator()
		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())

		waitReady(c, namespace, "web")
		expectCleanedUp(c, namespace, "web")
		Expect(csrs.created()).To(HaveLen(1))
	})

	It("stores a certificate issued while the operator was down", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		csrs := recordCSRs(csrSelector(namespace, "web"))
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)

		operator.kill()
		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())
		Eventually(func() []byte { return csrsOf(c, namespace, "web")[0].Status.Certificate }).
			WithTimeout(e2eTimeout).WithPolling(e2ePolling).ShouldNot(BeEmpty())
		operator = startOperator()

		waitReady(c, namespace, "web")
		expectCleanedUp(c, namespace, "web")
		Expect(csrs.created()).To(HaveLen(1))
	})

	It("makes no extra CSR when labels change during issuance", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		csrs := recordCSRs(csrSelector(namespace, "web"))
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)

		for i := range 10 {
			kubectl("label", "dnscertificate", "web", "-n", namespace, fmt.Sprintf("edit=%d", i), "--overwrite")
		}
		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())
		ready := waitReady(c, namespace, "web")
		Expect(ready.Status.Revision).To(Equal(int64(1)))
		Expect(csrs.created()).To(HaveLen(1))

		types := map[string]int{}
		for _, condition := range ready.Status.Conditions {
			types[condition.Type]++
			Expect(condition.ObservedGeneration).To(Equal(ready.Generation), "condition %s", condition.Type)
		}
		Expect(types).To(Equal(map[string]int{"Ready": 1, "Pending": 1, "Signed": 1, "Rotating": 1}))
	})

	It("makes a new CSR when someone deletes the outstanding one", func() {
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		first := csrsOf(c, namespace, "web")
		Expect(first).To(HaveLen(1))

		kubectl("delete", "csr", first[0].Name)
		Eventually(func(g Gomega) {
			current := csrsOf(c, namespace, "web")
			g.Expect(current).To(HaveLen(1))
			g.Expect(current[0].UID).NotTo(Equal(first[0].UID))
		}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())

		signer.SetMode(testsigner.Sign)
		Expect(signer.Resync(ctx())).To(Succeed())
		waitReady(c, namespace, "web")
		expectCleanedUp(c, namespace, "web")
	})

	It("waits while approval is forbidden and completes once it is granted", func() {
		signer, err := testsigner.New("forbidden.dnscert.io/"+utilrand.String(6), testsigner.Sign)
		Expect(err).NotTo(HaveOccurred())
		signerCtx, cancel := contextWithCancel()
		DeferCleanup(cancel)
		Expect(signer.Start(signerCtx, cluster.Config)).To(Succeed())

		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonApprovalForbidden)
		Consistently(func() []certificatesv1.CertificateSigningRequest { return csrsOf(c, namespace, "web") }).
			WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(HaveLen(1))

		grantApproval("e2e-forbidden-signer", signer.Name)
		waitReady(c, namespace, "web")
		expectCleanedUp(c, namespace, "web")
	})

	It("writes nothing for Ready DNSCertificates across resyncs and a restart", func() {
		const count = 50
		restartOperator("--sync-period=2s")
		DeferCleanup(func() { restartOperator() })
		namespace := createNamespace()
		var manifests []string
		for i := range count {
			manifests = append(manifests, certificateManifest(namespace, fmt.Sprintf("quiet-%02d", i), fmt.Sprintf("quiet-%02d-tls", i), "", fmt.Sprintf("quiet-%02d.example", i)))
		}
		kubectlApply(strings.Join(manifests, "---\n"))
		kubectl("wait", "--for=condition=Ready", "dnscertificate", "--all", "-n", namespace, "--timeout=120s")
		expectCleanedUp(c, namespace, "quiet-00")

		versions := func() map[string]string {
			result := map[string]string{}
			var certificates certsv1alpha1.DNSCertificateList
			Expect(c.List(ctx(), &certificates, client.InNamespace(namespace))).To(Succeed())
			for _, certificate := range certificates.Items {
				result["DNSCertificate/"+certificate.Name] = certificate.ResourceVersion
			}
			var secrets corev1.SecretList
			Expect(c.List(ctx(), &secrets, client.InNamespace(namespace))).To(Succeed())
			for _, secret := range secrets.Items {
				result["Secret/"+secret.Name] = secret.ResourceVersion
			}
			var csrs certificatesv1.CertificateSigningRequestList
			Expect(c.List(ctx(), &csrs, client.MatchingLabels{certsv1alpha1.LabelDNSCertificateNamespace: namespace})).To(Succeed())
			for _, csr := range csrs.Items {
				result["CertificateSigningRequest/"+csr.Name] = csr.ResourceVersion
			}
			return result
		}
		before := versions()
		Expect(before).To(HaveLen(2 * count))

		By("resyncing several times")
		Consistently(versions).WithTimeout(7 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(before))

		By("restarting the operator")
		restartOperator("--sync-period=2s")
		Consistently(versions).WithTimeout(7 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(before))
	})
})

func findCondition(certificate *certsv1alpha1.DNSCertificate, conditionType string) metav1.Condition {
	for _, condition := range certificate.Status.Conditions {
		if condition.Type == conditionType {
			return condition
		}
	}
	Fail("condition " + conditionType + " is missing")
	return metav1.Condition{}
}
