package signer

import (
	"context"
	"time"
)

// Delays between attempts to load the CA after a failure that may go away,
// such as an unreachable API server or missing RBAC.
const (
	caRetryInitialDelay = time.Second
	caRetryMaxDelay     = time.Minute
)

// caLoader is the manager runnable that loads the CA once the operator is leader, so
// only one instance creates the CA Secret and the ClusterTrustBundle.
type caLoader struct {
	controller *Controller
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (*caLoader) NeedLeaderElection() bool { return true }

// Start loads the CA and publishes it, retrying with a growing delay until it succeeds, the
// failure is permanent, or ctx ends. A permanent failure stops the manager with its message.
func (l *caLoader) Start(ctx context.Context) error {
	c := l.controller
	delay := caRetryInitialDelay
	for {
		err := c.loadCA(ctx)
		if err == nil {
			return nil
		}
		if isPermanent(err) {
			return err
		}
		c.log.Error(err, "Failed to load the signer's CA, retrying", "delay", delay)

		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		delay = min(2*delay, caRetryMaxDelay)
	}
}

// CACertificatePEM returns the PEM certificate of the loaded CA, or nil before the CA is loaded.
// It is the root for certificates of this signer where the API server serves no ClusterTrustBundles.
func (c *Controller) CACertificatePEM() []byte {
	ca := c.ca.Load()
	if ca == nil {
		return nil
	}
	return ca.CertificatePEM()
}

// loadCA loads or creates the CA, publishes it when configured, and only then makes it
// available for signing, so no certificate is issued before clients can get its root.
func (c *Controller) loadCA(ctx context.Context) error {
	ca, err := c.loadOrCreateCA(ctx)
	if err != nil {
		return err
	}
	if c.PublishTrustBundle {
		if err := c.publishTrustBundle(ctx, ca); err != nil {
			return err
		}
	}

	c.ca.Store(ca)
	c.log.Info("Loaded the signer's CA", "secret", c.Namespace+"/"+c.CASecretName,
		"notAfter", ca.Certificate().NotAfter, "serialNumber", ca.Certificate().SerialNumber.Text(16))
	return nil
}
