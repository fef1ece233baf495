package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// newCertificate returns a DNSCertificate with two DNS names and every other field defaulted.
func newCertificate(namespace, name string) *certsv1alpha1.DNSCertificate {
	return &certsv1alpha1.DNSCertificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: certsv1alpha1.DNSCertificateSpec{
			SecretName: name + "-tls",
			DNSNames:   []string{name + "." + namespace + ".svc", name + "." + namespace},
		},
	}
}

// isReady reports whether the Ready condition is True for the object's current generation.
func isReady(certificate *certsv1alpha1.DNSCertificate) bool {
	ready := meta.FindStatusCondition(certificate.Status.Conditions, certsv1alpha1.ConditionReady)
	return ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == certificate.Generation
}

// isSettled reports whether a DNSCertificate is Ready with no CertificateSigningRequest
// outstanding, so that the operator has finished the last issuance.
func isSettled(certificate *certsv1alpha1.DNSCertificate) bool {
	return isReady(certificate) && certificate.Status.CertificateSigningRequest == ""
}

// createCertificateAndWait creates a DNSCertificate, unless it exists, and polls until it is settled.
func (b *bench) createCertificateAndWait(ctx context.Context, namespace, name string) (*certsv1alpha1.DNSCertificate, error) {
	if err := b.createNamespace(ctx, namespace); err != nil {
		return nil, err
	}
	if err := b.client.Create(ctx, newCertificate(namespace, name)); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating DNSCertificate %s/%s: %w", namespace, name, err)
	}
	return b.waitCertificate(ctx, types.NamespacedName{Namespace: namespace, Name: name}, isSettled)
}

// waitCertificate polls a DNSCertificate until done returns true for it.
func (b *bench) waitCertificate(ctx context.Context, key types.NamespacedName, done func(*certsv1alpha1.DNSCertificate) bool) (*certsv1alpha1.DNSCertificate, error) {
	certificate := &certsv1alpha1.DNSCertificate{}
	err := wait.PollUntilContextTimeout(ctx, pollInterval, b.cfg.timeout, true, func(ctx context.Context) (bool, error) {
		if err := b.client.Get(ctx, key, certificate); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return done(certificate), nil
	})
	if err != nil {
		ready := meta.FindStatusCondition(certificate.Status.Conditions, certsv1alpha1.ConditionReady)
		return nil, fmt.Errorf("waiting for DNSCertificate %s (Ready condition %+v): %w", key, ready, err)
	}
	return certificate, nil
}

// watchCertificates watches the DNSCertificates of a namespace from now on, resuming the watch
// when the API server closes it.
func (b *bench) watchCertificates(ctx context.Context, namespace string) (*watchtools.RetryWatcher, error) {
	var list certsv1alpha1.DNSCertificateList
	if err := b.client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing DNSCertificates in %s: %w", namespace, err)
	}
	watcher, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, certificateWatcher{client: b.client, namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("watching DNSCertificates in %s: %w", namespace, err)
	}
	return watcher, nil
}

// certificateWatcher starts watches of the DNSCertificates in one namespace for a RetryWatcher.
type certificateWatcher struct {
	client    client.WithWatch
	namespace string
}

func (w certificateWatcher) WatchWithContext(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
	return w.client.Watch(ctx, &certsv1alpha1.DNSCertificateList{}, client.InNamespace(w.namespace), &client.ListOptions{Raw: &options})
}

// verifySecret checks what a consumer of the Secret relies on: the private key belongs to the
// certificate, and the certificate chains to ca.crt. It returns the certificate's serial number.
// Errors name the failed check and never contain the Secret's data.
func verifySecret(secret *corev1.Secret) (*big.Int, error) {
	chain, err := pki.ParseCertificatesPEM(secret.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("parsing tls.crt of Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("tls.crt of Secret %s/%s holds no certificate", secret.Namespace, secret.Name)
	}
	key, _, err := pki.ParsePrivateKeyPEM(secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("parsing tls.key of Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	if !pki.PublicKeysEqual(chain[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("the private key in Secret %s/%s does not belong to its certificate", secret.Namespace, secret.Name)
	}
	roots, err := pki.ParseCertificatesPEM(secret.Data["ca.crt"])
	if err != nil {
		return nil, fmt.Errorf("parsing ca.crt of Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	if err := pki.VerifyChain(chain[0], chain[1:], roots, time.Now()); err != nil {
		return nil, fmt.Errorf("verifying the chain of Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	return chain[0].SerialNumber, nil
}

// errWatchClosed is returned when a watch ends before the awaited event.
var errWatchClosed = errors.New("the watch ended before the awaited event")
