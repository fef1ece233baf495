package controllers

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"time"
)

const (
	// renewalSpreadStart and renewalSpreadEnd bound the share of the lifetime after which an
	// unconfigured certificate is renewed. Spreading renewals keeps a fleet issued at once from
	// coming due at once.
	renewalSpreadStart = 0.7
	renewalSpreadEnd   = 0.9

	// minRequeueDelay is the shortest delay a reconcile requests, because a delay of zero or less
	// makes the controller spin.
	minRequeueDelay = time.Second

	// Retries after a failed issuance back off from backoffBase, doubling up to backoffCap.
	backoffBase = time.Minute
	backoffCap  = time.Hour
)

// renewalTime returns when an issued certificate is renewed. With renewBefore set, that is
// renewBefore ahead of expiry, unless the signer issued a lifetime shorter than renewBefore.
// Otherwise it is a point between 70% and 90% of the lifetime that depends only on the
// certificate's bytes, so every replica and every restart computes the same time.
func renewalTime(leaf *x509.Certificate, renewBefore time.Duration) time.Time {
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	if renewBefore > 0 && renewBefore < lifetime {
		return leaf.NotAfter.Add(-renewBefore)
	}

	digest := sha256.Sum256(leaf.Raw)
	fraction := float64(binary.BigEndian.Uint64(digest[:8])) / float64(^uint64(0))
	share := renewalSpreadStart + (renewalSpreadEnd-renewalSpreadStart)*fraction
	return leaf.NotBefore.Add(time.Duration(float64(lifetime) * share)).Truncate(time.Second)
}

// backoffDelay returns how long to wait after the given number of consecutive failures.
func backoffDelay(failures int32) time.Duration {
	if failures <= 0 {
		return 0
	}
	delay := backoffBase
	for i := int32(1); i < failures && delay < backoffCap; i++ {
		delay *= 2
	}
	return min(delay, backoffCap)
}

// requeueDelay returns the delay until at, never less than minRequeueDelay.
func requeueDelay(now, at time.Time) time.Duration {
	return max(at.Sub(now), minRequeueDelay)
}
