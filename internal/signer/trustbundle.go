package signer

import (
	"context"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// TrustBundleName returns the name of the ClusterTrustBundle that publishes the CA of signerName.
// The API server requires a bundle with a signer name to be named with that name as a prefix,
// slashes replaced by colons, so certs.dnscert.io/local gets certs.dnscert.io:local:ca.
func TrustBundleName(signerName string) string {
	return strings.ReplaceAll(signerName, "/", ":") + ":ca"
}

// publishTrustBundle creates or updates the signer's ClusterTrustBundle so that it holds
// exactly the CA certificate. It does nothing where the API server does not serve
// certificates.k8s.io/v1 ClusterTrustBundles (before Kubernetes 1.37), because clients then
// get the CA from the ca.crt key of each certificate Secret.
// A watch on the bundle (trustBundleKeeper) writes it again when someone deletes or edits it.
func (c *Controller) publishTrustBundle(ctx context.Context, ca *CA) error {
	name := TrustBundleName(c.SignerName)
	trustBundle := string(ca.CertificatePEM())

	// Read from the API server: a cached read would start an informer that never syncs
	// on an API server without ClusterTrustBundles.
	var bundle certificatesv1.ClusterTrustBundle
	err := c.APIReader.Get(ctx, client.ObjectKey{Name: name}, &bundle)
	switch {
	case meta.IsNoMatchError(err):
		c.log.Info("Not publishing the CA: the API server does not serve certificates.k8s.io/v1 ClusterTrustBundles", "clusterTrustBundle", name)
		return nil

	case apierrors.IsNotFound(err):
		bundle = certificatesv1.ClusterTrustBundle{
			ObjectMeta: metav1.ObjectMeta{
				Name:   name,
				Labels: map[string]string{ManagedByLabel: ManagedByValue},
			},
			Spec: certificatesv1.ClusterTrustBundleSpec{
				SignerName:  c.SignerName,
				TrustBundle: trustBundle,
			},
		}
		if err := c.Client.Create(ctx, &bundle); err != nil {
			return fmt.Errorf("creating ClusterTrustBundle %s: %w", name, err)
		}
		c.log.Info("Published the CA in a ClusterTrustBundle", "clusterTrustBundle", name)
		return nil

	case err != nil:
		return fmt.Errorf("reading ClusterTrustBundle %s: %w", name, err)
	}

	if bundle.Spec.TrustBundle == trustBundle && bundle.Labels[ManagedByLabel] == ManagedByValue {
		return nil
	}
	bundle.Spec.TrustBundle = trustBundle
	if bundle.Labels == nil {
		bundle.Labels = map[string]string{}
	}
	bundle.Labels[ManagedByLabel] = ManagedByValue
	if err := c.Client.Update(ctx, &bundle); err != nil {
		return fmt.Errorf("updating ClusterTrustBundle %s: %w", name, err)
	}
	c.log.Info("Updated the CA in the ClusterTrustBundle", "clusterTrustBundle", name)
	return nil
}

// trustBundleKeeper republishes the signer's ClusterTrustBundle when it is deleted or edited, so
// clients and the DNSCertificate controller never see a root other than the signer's CA.
type trustBundleKeeper struct {
	controller *Controller
}

// Reconcile writes the bundle again once the CA is loaded; before that, loadCA publishes it.
func (k *trustBundleKeeper) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	ca := k.controller.ca.Load()
	if ca == nil {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, k.controller.publishTrustBundle(ctx, ca)
}

// setupTrustBundleKeeper watches the signer's ClusterTrustBundle.
func (c *Controller) setupTrustBundleKeeper(mgr ctrl.Manager) error {
	name := TrustBundleName(c.SignerName)
	isOurBundle := predicate.NewPredicateFuncs(func(object client.Object) bool { return object.GetName() == name })
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName+"-trustbundle").
		For(&certificatesv1.ClusterTrustBundle{}, builder.WithPredicates(isOurBundle)).
		Complete(&trustBundleKeeper{controller: c})
}
