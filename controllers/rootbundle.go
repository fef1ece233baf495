package controllers

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dnscert/dnscert-operator/internal/pki"
)

// Sources of a root bundle, in the order they are tried.
const (
	rootSourceTrustBundle = "ClusterTrustBundle"
	rootSourceConfigured  = "roots configured for the signer"
	rootSourceSelfSigned  = "self-signed top of the chain"
	rootSourceClusterCA   = "kube-root-ca.crt ConfigMap"
)

// rootCAConfigMapName is the ConfigMap kube-controller-manager publishes in every namespace with the cluster CA.
const rootCAConfigMapName = "kube-root-ca.crt"

// rootBundle is the set of roots a signer's certificates chain to.
type rootBundle struct {
	certificates []*x509.Certificate
	pem          []byte
	source       string
}

// rootResolver finds the root bundle of a signer.
type rootResolver struct {
	// reader lists ClusterTrustBundles, usually from the cache.
	reader client.Reader
	// liveReader reads the namespace's kube-root-ca.crt ConfigMap, which is not cached.
	liveReader client.Reader
	// trustBundlesServed is false on API servers without certificates.k8s.io/v1 ClusterTrustBundles.
	trustBundlesServed bool
	// configuredRoots returns the PEM roots configured for a signer, nil when none are.
	configuredRoots func(signerName string) []byte
}

// resolve returns the root bundle for a signer. It tries, in order, the signer's
// ClusterTrustBundles, the roots configured for it, the chain's self-signed top and the
// namespace's kube-root-ca.crt ConfigMap, and returns an empty bundle when none is available.
func (r *rootResolver) resolve(ctx context.Context, signerName, namespace string, chain []*x509.Certificate) (rootBundle, error) {
	if r.trustBundlesServed {
		bundle, err := r.fromTrustBundles(ctx, signerName)
		if err != nil {
			return rootBundle{}, err
		}
		if len(bundle.certificates) > 0 {
			return bundle, nil
		}
	}

	if r.configuredRoots != nil {
		if data := r.configuredRoots(signerName); len(data) > 0 {
			certificates, err := pki.ParseCertificatesPEM(data)
			if err != nil {
				return rootBundle{}, fmt.Errorf("parsing the roots configured for signer %s: %w", signerName, err)
			}
			return rootBundle{certificates: certificates, pem: pki.EncodeCertificatesPEM(certificates...), source: rootSourceConfigured}, nil
		}
	}

	if top := pki.SelfSignedTop(chain); top != nil {
		return rootBundle{
			certificates: []*x509.Certificate{top},
			pem:          pki.EncodeCertificatesPEM(top),
			source:       rootSourceSelfSigned,
		}, nil
	}

	return r.fromClusterCA(ctx, namespace)
}

func (r *rootResolver) fromTrustBundles(ctx context.Context, signerName string) (rootBundle, error) {
	var list certificatesv1.ClusterTrustBundleList
	if err := r.reader.List(ctx, &list); err != nil {
		return rootBundle{}, fmt.Errorf("listing ClusterTrustBundles: %w", err)
	}

	var certificates []*x509.Certificate
	seen := map[string]bool{}
	for i := range list.Items {
		bundle := &list.Items[i]
		if bundle.Spec.SignerName != signerName {
			continue
		}
		parsed, err := pki.ParseCertificatesPEM([]byte(bundle.Spec.TrustBundle))
		if err != nil {
			// The API server validates trust bundles, so this is not expected; skip the bundle.
			continue
		}
		for _, certificate := range parsed {
			fingerprint := pki.Fingerprint(certificate)
			if !seen[fingerprint] {
				seen[fingerprint] = true
				certificates = append(certificates, certificate)
			}
		}
	}
	if len(certificates) == 0 {
		return rootBundle{}, nil
	}
	// Sort by fingerprint so the bundle's bytes do not depend on list order.
	sortByFingerprint(certificates)
	return rootBundle{certificates: certificates, pem: pki.EncodeCertificatesPEM(certificates...), source: rootSourceTrustBundle}, nil
}

func (r *rootResolver) fromClusterCA(ctx context.Context, namespace string) (rootBundle, error) {
	var configMap corev1.ConfigMap
	err := r.liveReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: rootCAConfigMapName}, &configMap)
	if apierrors.IsNotFound(err) {
		return rootBundle{}, nil
	}
	if err != nil {
		return rootBundle{}, fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, rootCAConfigMapName, err)
	}
	data := []byte(configMap.Data[keyCACert])
	certificates, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return rootBundle{}, nil
	}
	return rootBundle{certificates: certificates, pem: pki.EncodeCertificatesPEM(certificates...), source: rootSourceClusterCA}, nil
}

func sortByFingerprint(certificates []*x509.Certificate) {
	slices.SortFunc(certificates, func(a, b *x509.Certificate) int {
		return strings.Compare(pki.Fingerprint(a), pki.Fingerprint(b))
	})
}
