package controllers

import (
	"bytes"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// newSecretReconciler returns a reconciler whose fake client serves only Scheme(), because the
// tests make no API calls.
func newSecretReconciler() *DNSCertificateReconciler {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(certsv1alpha1.AddToScheme(scheme))
	return &DNSCertificateReconciler{Client: fake.NewClientBuilder().WithScheme(scheme).Build()}
}

// secretFixture is a DNSCertificate with a secretTemplate, a certificate issued for it, and the
// observation of one reconcile.
type secretFixture struct {
	reconciler *DNSCertificateReconciler
	issuance   *unitIssuance
	obs        *observation
	content    secretContent
}

func newSecretFixture(t *testing.T) *secretFixture {
	t.Helper()
	certificate := &certsv1alpha1.DNSCertificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "0a1b2c3d-0000-4000-8000-000000000001", Generation: 1},
		Spec: unitSpec(func(spec *certsv1alpha1.DNSCertificateSpec) {
			spec.SecretTemplate = &certsv1alpha1.SecretTemplate{
				Labels:      map[string]string{"app.kubernetes.io/name": "web"},
				Annotations: map[string]string{"example.com/owner": "team-web"},
			}
		}),
	}
	issuance := issueFor(t, newUnitCA(t, "unit root"), unitDesired())
	return &secretFixture{
		reconciler: newSecretReconciler(),
		issuance:   issuance,
		obs:        &observation{certificate: certificate, desired: issuance.desired},
		content: secretContent{
			chainPEM: issuance.secret.Data[keyTLSCert],
			keyPEM:   issuance.secret.Data[keyTLSKey],
			rootsPEM: issuance.secret.Data[keyCACert],
		},
	}
}

// desired calls desiredSecret and fails the test on an error.
func (f *secretFixture) desired(t *testing.T) (*corev1.Secret, bool) {
	t.Helper()
	secret, changed, err := f.reconciler.desiredSecret(f.obs, f.content)
	if err != nil {
		t.Fatalf("desiredSecret() error = %v", err)
	}
	return secret, changed
}

// observeWritten makes the Secret that desiredSecret returns the observed Secret of the next reconcile.
func (f *secretFixture) observeWritten(t *testing.T) {
	t.Helper()
	secret, _ := f.desired(t)
	secret.ResourceVersion = "7"
	f.obs.secret = secret
}

func TestDesiredSecretForNewSecret(t *testing.T) {
	f := newSecretFixture(t)

	secret, changed := f.desired(t)

	if !changed {
		t.Errorf("desiredSecret() changed = false for a Secret that does not exist, want true")
	}
	if secret.Namespace != "default" || secret.Name != "web-tls" {
		t.Errorf("Secret is %s/%s, want default/web-tls", secret.Namespace, secret.Name)
	}
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type = %s, want %s", secret.Type, corev1.SecretTypeTLS)
	}

	wantData := map[string][]byte{
		"tls.crt": f.content.chainPEM, "cert-chain.pem": f.content.chainPEM,
		"tls.key": f.content.keyPEM, "key.pem": f.content.keyPEM,
		"ca.crt": f.content.rootsPEM, "root-cert.pem": f.content.rootsPEM,
	}
	if len(secret.Data) != len(wantData) {
		t.Errorf("Secret has %d keys, want %d", len(secret.Data), len(wantData))
	}
	for key, want := range wantData {
		if !bytes.Equal(secret.Data[key], want) {
			t.Errorf("Secret key %s does not hold the expected bytes", key)
		}
	}

	wantLabels := map[string]string{certsv1alpha1.LabelDNSCertificate: "web", "app.kubernetes.io/name": "web"}
	if !maps.Equal(secret.Labels, wantLabels) {
		t.Errorf("Secret labels = %v, want %v", secret.Labels, wantLabels)
	}
	wantAnnotations := map[string]string{certsv1alpha1.AnnotationSignerName: unitSignerName, "example.com/owner": "team-web"}
	if !maps.Equal(secret.Annotations, wantAnnotations) {
		t.Errorf("Secret annotations = %v, want %v", secret.Annotations, wantAnnotations)
	}

	owner := metav1.GetControllerOf(secret)
	switch {
	case owner == nil:
		t.Errorf("Secret has no controller owner reference")
	case owner.APIVersion != certsv1alpha1.GroupVersion.String() || owner.Kind != "DNSCertificate" ||
		owner.Name != "web" || owner.UID != f.obs.certificate.UID:
		t.Errorf("Secret controller = %+v, want DNSCertificate web with UID %s", owner, f.obs.certificate.UID)
	case owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion:
		t.Errorf("Secret controller reference does not block owner deletion")
	}
	if len(secret.OwnerReferences) != 1 {
		t.Errorf("Secret has %d owner references, want 1", len(secret.OwnerReferences))
	}
}

func TestDesiredSecretChanges(t *testing.T) {
	cases := []struct {
		name string
		// mutate changes the reconcile after the Secret was written as desired.
		mutate      func(t *testing.T, f *secretFixture)
		wantChanged bool
		// check inspects the returned Secret.
		check func(t *testing.T, f *secretFixture, secret *corev1.Secret)
	}{
		{
			name:        "reports unchanged when nothing differs",
			mutate:      func(*testing.T, *secretFixture) {},
			wantChanged: false,
		},
		{
			name: "reports unchanged when the content is equal but not the same slices",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.content.chainPEM = bytes.Clone(f.content.chainPEM)
				f.content.keyPEM = bytes.Clone(f.content.keyPEM)
				f.content.rootsPEM = bytes.Clone(f.content.rootsPEM)
			},
			wantChanged: false,
		},
		{
			name: "keeps labels and annotations that others added",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.obs.secret.Labels["team"] = "payments"
				f.obs.secret.Annotations["example.com/audit"] = "2026"
			},
			wantChanged: false,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Labels["team"] != "payments" || secret.Annotations["example.com/audit"] != "2026" {
					t.Errorf("Secret lost foreign metadata: labels %v, annotations %v", secret.Labels, secret.Annotations)
				}
			},
		},
		{
			name: "reports changed when only ca.crt differs",
			mutate: func(t *testing.T, f *secretFixture) {
				f.content.rootsPEM = append(bytes.Clone(f.content.rootsPEM), newUnitCA(t, "new root").pem()...)
			},
			wantChanged: true,
			check: func(t *testing.T, f *secretFixture, secret *corev1.Secret) {
				for _, key := range []string{keyCACert, keyIstioRootCAs} {
					if !bytes.Equal(secret.Data[key], f.content.rootsPEM) {
						t.Errorf("Secret key %s does not hold the new root bundle", key)
					}
				}
				for _, key := range []string{keyTLSCert, keyIstioCert, keyTLSKey, keyIstioKey} {
					if !bytes.Equal(secret.Data[key], f.obs.secret.Data[key]) {
						t.Errorf("Secret key %s changed, want it kept", key)
					}
				}
			},
		},
		{
			name: "reports changed when a new certificate and key are stored",
			mutate: func(t *testing.T, f *secretFixture) {
				next := issueWith(t, f.issuance.ca, f.issuance.desired, newUnitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0), leafFor(t, f.issuance.desired))
				f.content.chainPEM = next.secret.Data[keyTLSCert]
				f.content.keyPEM = next.secret.Data[keyTLSKey]
			},
			wantChanged: true,
			check: func(t *testing.T, f *secretFixture, secret *corev1.Secret) {
				if !bytes.Equal(secret.Data[keyIstioCert], f.content.chainPEM) || !bytes.Equal(secret.Data[keyIstioKey], f.content.keyPEM) {
					t.Errorf("the Istio keys do not hold the new certificate and key")
				}
			},
		},
		{
			name: "reports changed when only a template label was added",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.obs.certificate.Spec.SecretTemplate.Labels["tier"] = "frontend"
			},
			wantChanged: true,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Labels["tier"] != "frontend" {
					t.Errorf("Secret labels = %v, want tier=frontend", secret.Labels)
				}
			},
		},
		{
			name: "reports changed when only a template annotation changed",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.obs.certificate.Spec.SecretTemplate.Annotations["example.com/owner"] = "team-platform"
			},
			wantChanged: true,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Annotations["example.com/owner"] != "team-platform" {
					t.Errorf("Secret annotations = %v, want example.com/owner=team-platform", secret.Annotations)
				}
			},
		},
		{
			name: "restores the DNSCertificate label when someone removed it",
			mutate: func(_ *testing.T, f *secretFixture) {
				delete(f.obs.secret.Labels, certsv1alpha1.LabelDNSCertificate)
			},
			wantChanged: true,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Labels[certsv1alpha1.LabelDNSCertificate] != "web" {
					t.Errorf("Secret labels = %v, want the DNSCertificate label", secret.Labels)
				}
			},
		},
		{
			name: "keeps the DNSCertificate label over a template label with its key",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.obs.certificate.Spec.SecretTemplate.Labels[certsv1alpha1.LabelDNSCertificate] = "other"
			},
			wantChanged: false,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Labels[certsv1alpha1.LabelDNSCertificate] != "web" {
					t.Errorf("Secret labels = %v, want the DNSCertificate label to win", secret.Labels)
				}
			},
		},
		{
			name: "reports changed when the signer annotation differs",
			mutate: func(_ *testing.T, f *secretFixture) {
				f.obs.desired.signerName = "example.com/other"
			},
			wantChanged: true,
			check: func(t *testing.T, _ *secretFixture, secret *corev1.Secret) {
				if secret.Annotations[certsv1alpha1.AnnotationSignerName] != "example.com/other" {
					t.Errorf("Secret annotations = %v, want the new signer", secret.Annotations)
				}
			},
		},
		{
			name: "reports changed when an Istio key is missing",
			mutate: func(_ *testing.T, f *secretFixture) {
				delete(f.obs.secret.Data, keyIstioRootCAs)
			},
			wantChanged: true,
			check: func(t *testing.T, f *secretFixture, secret *corev1.Secret) {
				if !bytes.Equal(secret.Data[keyIstioRootCAs], f.content.rootsPEM) {
					t.Errorf("Secret key %s was not restored", keyIstioRootCAs)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newSecretFixture(t)
			f.observeWritten(t)
			tc.mutate(t, f)
			observed := f.obs.secret.DeepCopy()

			secret, changed := f.desired(t)

			if changed != tc.wantChanged {
				t.Errorf("desiredSecret() changed = %v, want %v", changed, tc.wantChanged)
			}
			if !tc.wantChanged && !equality.Semantic.DeepEqual(secret, observed) {
				t.Errorf("desiredSecret() reported no change but returned a different Secret")
			}
			if secret.ResourceVersion != observed.ResourceVersion {
				t.Errorf("Secret resourceVersion = %q, want the observed %q for the update", secret.ResourceVersion, observed.ResourceVersion)
			}
			if len(secret.OwnerReferences) != 1 {
				t.Errorf("Secret has %d owner references, want 1", len(secret.OwnerReferences))
			}
			// The observed Secret comes from the cache and must not be modified.
			if !equality.Semantic.DeepEqual(f.obs.secret, observed) {
				t.Errorf("desiredSecret() modified the observed Secret")
			}
			if tc.check != nil {
				tc.check(t, f, secret)
			}
		})
	}
}
