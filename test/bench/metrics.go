package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseSamples returns the samples of the named metrics in a Prometheus text exposition, skipping
// every other line without parsing it.
func parseSamples(data []byte, names ...string) ([]sample, error) {
	var samples []sample
	scanner := bufio.NewScanner(bytes.NewReader(data))
	// kube-apiserver's exposition has lines far longer than bufio's default limit of 64 KiB.
	scanner.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 || !slices.Contains(names, line[:end]) {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, err
		}
		samples = append(samples, s)
	}
	return samples, scanner.Err()
}

// parseSample parses `name{label="value",...} value [timestamp]`.
func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	s.name = line[:end]
	rest := line[end:]
	if rest[0] == '{' {
		var err error
		rest, err = parseLabels(rest[1:], s.labels)
		if err != nil {
			return sample{}, fmt.Errorf("metric %s: %w", s.name, err)
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return sample{}, fmt.Errorf("metric %s has no value", s.name)
	}
	value, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return sample{}, fmt.Errorf("metric %s has an invalid value %q: %w", s.name, fields[0], err)
	}
	s.value = value
	return s, nil
}

// parseLabels reads `label="value",...}` into labels and returns what follows the closing brace.
// Values may contain the escapes \\, \" and \n.
func parseLabels(text string, labels map[string]string) (string, error) {
	for {
		text = strings.TrimLeft(text, " ,")
		if strings.HasPrefix(text, "}") {
			return text[1:], nil
		}
		equals := strings.Index(text, "=\"")
		if equals < 0 {
			return "", fmt.Errorf("invalid label list near %.40q", text)
		}
		name := text[:equals]
		text = text[equals+2:]
		var value strings.Builder
		closed := false
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '\\' && i+1 < len(text) {
				i++
				switch text[i] {
				case 'n':
					value.WriteByte('\n')
				default:
					value.WriteByte(text[i])
				}
				continue
			}
			if c == '"' {
				text = text[i+1:]
				closed = true
				break
			}
			value.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("unterminated value of label %s", name)
		}
		labels[name] = value.String()
	}
}

// writeVerbs are the values of apiserver_request_total's verb label for requests that change
// stored objects. kube-apiserver reports create as POST, update as PUT and server-side apply as APPLY.
var writeVerbs = []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}

// reviewResources are created with POST but store nothing: they only ask the API server a question,
// such as the manager's SelfSubjectReview at start.
var reviewResources = []string{
	"selfsubjectreviews", "tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews",
	"localsubjectaccessreviews", "selfsubjectrulesreviews",
}

// leaderElectionResources are kept apart in the totals because their writes do not depend on the
// DNSCertificates. The manager's leader election renews its Lease every 2 seconds and records a
// core/v1 Event when it becomes leader, while kube-apiserver renews its own identity Lease every
// 10 seconds. The manager's own events go to events.k8s.io, a separate resource.
var leaderElectionResources = []string{"leases.coordination.k8s.io", "events"}

// requestCounts maps a resource, written as kubectl does ("resource.group/subresource", without
// the group for the core API), to a number of requests.
type requestCounts map[string]float64

// minus returns the per-resource difference c - before, dropping resources without a difference.
func (c requestCounts) minus(before requestCounts) requestCounts {
	delta := requestCounts{}
	for key, count := range c {
		if d := count - before[key]; d != 0 {
			delta[key] = d
		}
	}
	for key, count := range before {
		if _, ok := c[key]; !ok && count != 0 {
			delta[key] = -count
		}
	}
	return delta
}

// withoutLeaderElection returns the total of all resources but leaderElectionResources.
func (c requestCounts) withoutLeaderElection() float64 {
	var total float64
	for key, count := range c {
		if !slices.Contains(leaderElectionResources, key) {
			total += count
		}
	}
	return total
}

// leaderElection returns the total of leaderElectionResources.
func (c requestCounts) leaderElection() float64 {
	var total float64
	for _, key := range leaderElectionResources {
		total += c[key]
	}
	return total
}

// total returns the requests of all resources.
func (c requestCounts) total() float64 {
	var total float64
	for _, count := range c {
		total += count
	}
	return total
}

// keys returns the resources in alphabetical order.
func (c requestCounts) keys() []string {
	return slices.Sorted(maps.Keys(c))
}

// readVerbs are the values of apiserver_request_total's verb label for single and list reads.
// Watches are left out: a watch is one long request however much it delivers.
var readVerbs = []string{"GET", "LIST"}

// apiServerRequests is a snapshot of kube-apiserver's request counters.
type apiServerRequests struct {
	// writes counts the write requests by resource, excluding reviewResources.
	writes requestCounts
	// reads counts the GET and LIST requests by resource.
	reads requestCounts
	// failedWrites counts the write requests among writes that returned a code of 400 or more.
	failedWrites float64
}

// scrapeAPIServer reads apiserver_request_total from kube-apiserver's /metrics.
func (b *bench) scrapeAPIServer(ctx context.Context) (apiServerRequests, error) {
	body, err := b.clientset.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return apiServerRequests{}, fmt.Errorf("reading kube-apiserver's /metrics: %w", err)
	}
	samples, err := parseSamples(body, "apiserver_request_total")
	if err != nil {
		return apiServerRequests{}, fmt.Errorf("parsing kube-apiserver's /metrics: %w", err)
	}
	snapshot := apiServerRequests{writes: requestCounts{}, reads: requestCounts{}}
	for _, s := range samples {
		resource := s.labels["resource"]
		key := resource
		if group := s.labels["group"]; group != "" {
			key += "." + group
		}
		if sub := s.labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		verb := strings.ToUpper(s.labels["verb"])
		switch {
		case slices.Contains(readVerbs, verb):
			snapshot.reads[key] += s.value
		case slices.Contains(writeVerbs, verb) && !slices.Contains(reviewResources, resource):
			snapshot.writes[key] += s.value
			if code, err := strconv.Atoi(s.labels["code"]); err == nil && code >= 400 {
				snapshot.failedWrites += s.value
			}
		}
	}
	return snapshot, nil
}

// since returns the requests made between before and r, less the bench's own writes.
func (r apiServerRequests) since(before apiServerRequests, ownWrites requestCounts) apiServerRequests {
	delta := apiServerRequests{
		writes:       r.writes.minus(before.writes),
		reads:        r.reads.minus(before.reads),
		failedWrites: r.failedWrites - before.failedWrites,
	}
	for key, count := range ownWrites {
		delta.writes[key] -= count
		if delta.writes[key] == 0 {
			delete(delta.writes, key)
		}
	}
	return delta
}
