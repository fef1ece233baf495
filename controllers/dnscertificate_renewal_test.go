package controllers

import (
	"crypto/x509"
	"math"
	"testing"
	"time"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// issueLeafFor returns a leaf from ca with the given lifetime, starting an hour before unitNow.
func issueLeafFor(t *testing.T, ca *unitCA, lifetime time.Duration) *x509.Certificate {
	t.Helper()
	template := leafFor(t, unitDesired())
	template.notAfter = template.notBefore.Add(lifetime)
	return ca.issueLeaf(t, unitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0).Public(), template)
}

// spreadBounds returns the 70% and 90% points of a certificate's lifetime.
func spreadBounds(leaf *x509.Certificate) (time.Time, time.Time) {
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(lifetime * 7 / 10), leaf.NotBefore.Add(lifetime * 9 / 10)
}

func TestRenewalTime(t *testing.T) {
	ca := newUnitCA(t, "unit root")
	cases := []struct {
		name        string
		lifetime    time.Duration
		renewBefore time.Duration
		// wantBeforeExpiry is how long before notAfter renewal is expected, or 0 to expect the
		// 70–90% spread.
		wantBeforeExpiry time.Duration
	}{
		{name: "honours renewBefore", lifetime: 2160 * time.Hour, renewBefore: 24 * time.Hour, wantBeforeExpiry: 24 * time.Hour},
		{name: "honours a renewBefore just below the lifetime", lifetime: time.Hour, renewBefore: time.Hour - time.Second, wantBeforeExpiry: time.Hour - time.Second},
		{name: "spreads renewal without renewBefore", lifetime: 2160 * time.Hour},
		{name: "spreads renewal when renewBefore equals the issued lifetime", lifetime: 24 * time.Hour, renewBefore: 24 * time.Hour},
		{name: "spreads renewal when renewBefore exceeds the issued lifetime", lifetime: time.Hour, renewBefore: 720 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leaf := issueLeafFor(t, ca, tc.lifetime)

			got := renewalTime(leaf, tc.renewBefore)

			if tc.wantBeforeExpiry != 0 {
				if want := leaf.NotAfter.Add(-tc.wantBeforeExpiry); !got.Equal(want) {
					t.Errorf("renewalTime() = %s, want %s", got, want)
				}
				return
			}
			earliest, latest := spreadBounds(leaf)
			if got.Before(earliest) || got.After(latest) {
				t.Errorf("renewalTime() = %s, want between %s and %s", got, earliest, latest)
			}
			if spread := renewalTime(leaf, 0); !got.Equal(spread) {
				t.Errorf("renewalTime() = %s, want the same time as without renewBefore, %s", got, spread)
			}
		})
	}
}

func TestRenewalTimeSpread(t *testing.T) {
	ca := newUnitCA(t, "unit root")
	lifetimes := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour, 2160 * time.Hour, 8760 * time.Hour}
	const perLifetime = 100

	for _, lifetime := range lifetimes {
		distinct := map[time.Time]bool{}
		lowest, highest := 1.0, 0.0
		for range perLifetime {
			leaf := issueLeafFor(t, ca, lifetime)
			got := renewalTime(leaf, 0)

			earliest, latest := spreadBounds(leaf)
			if got.Before(earliest) || got.After(latest) {
				t.Fatalf("lifetime %s: renewalTime() = %s, want between %s and %s", lifetime, got, earliest, latest)
			}
			share := float64(got.Sub(leaf.NotBefore)) / float64(lifetime)
			lowest, highest = min(lowest, share), max(highest, share)
			distinct[got] = true
		}

		// 100 uniform draws from [0.7, 0.9] all landing in one half is a 2^-99 event.
		if lowest >= 0.8 || highest <= 0.8 {
			t.Errorf("lifetime %s: renewal shares lie in [%.3f, %.3f], want them spread over 70%% to 90%%", lifetime, lowest, highest)
		}
		// Even 10 minutes leave 121 whole seconds to choose from, so most times differ.
		if len(distinct) < perLifetime/2 {
			t.Errorf("lifetime %s: %d certificates got only %d distinct renewal times", lifetime, perLifetime, len(distinct))
		}
	}
}

func TestRenewalTimeIsDeterministic(t *testing.T) {
	leaf := issueLeafFor(t, newUnitCA(t, "unit root"), 2160*time.Hour)
	first := renewalTime(leaf, 0)

	// A copy parsed from the same bytes, as a restarted operator reads it from the Secret.
	reparsed, err := x509.ParseCertificate(leaf.Raw)
	if err != nil {
		t.Fatalf("parsing the certificate again: %v", err)
	}
	for i := range 10 {
		if got := renewalTime(reparsed, 0); !got.Equal(first) {
			t.Fatalf("renewalTime() call %d = %s, want %s as on the first call", i+2, got, first)
		}
	}
	if first.Nanosecond() != 0 {
		t.Errorf("renewalTime() = %s, want whole seconds", first)
	}
}

func TestBackoffDelay(t *testing.T) {
	cases := []struct {
		name     string
		failures int32
		want     time.Duration
	}{
		{name: "waits nothing without failures", failures: 0, want: 0},
		{name: "waits nothing for a negative count", failures: -3, want: 0},
		{name: "waits one minute after one failure", failures: 1, want: time.Minute},
		{name: "waits two minutes after two failures", failures: 2, want: 2 * time.Minute},
		{name: "waits four minutes after three failures", failures: 3, want: 4 * time.Minute},
		{name: "waits 32 minutes after six failures", failures: 6, want: 32 * time.Minute},
		{name: "caps 64 minutes at one hour after seven failures", failures: 7, want: time.Hour},
		{name: "stays at one hour after 40 failures", failures: 40, want: time.Hour},
		{name: "does not overflow at the largest count", failures: math.MaxInt32, want: time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoffDelay(tc.failures); got != tc.want {
				t.Errorf("backoffDelay(%d) = %s, want %s", tc.failures, got, tc.want)
			}
		})
	}
}

func TestRequeueDelay(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		want time.Duration
	}{
		{name: "waits until a future time", at: unitNow.Add(90 * time.Minute), want: 90 * time.Minute},
		{name: "waits at least one second for a time just ahead", at: unitNow.Add(500 * time.Millisecond), want: time.Second},
		{name: "waits one second for now", at: unitNow, want: time.Second},
		{name: "waits one second for a time in the past", at: unitNow.Add(-time.Hour), want: time.Second},
		{name: "waits one second for the zero time", at: time.Time{}, want: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := requeueDelay(unitNow, tc.at); got != tc.want {
				t.Errorf("requeueDelay() = %s, want %s", got, tc.want)
			}
		})
	}
}
