package awssource

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/discovery/reach"
)

// Discovery at scale: 3 profiles (accounts) × 4 regions = 12 scopes
// holding 2,000 EC2 instances and 500 databases between them, every reply
// paged at 100 items and delayed 50 ms. Scanning all 12 scopes should take
// at most 3× the time of discovering one of them.
//
//	go test -run '^$' -bench Scale -benchtime 5x ./discovery/awssource/

const (
	scaleInstances = 2000
	scaleDatabases = 500
	scalePageSize  = 100
	scaleLatency   = 50 * time.Millisecond
)

var (
	scaleAccounts = []string{"111111111111", "222222222222", "333333333333"}
	scaleRegions  = []string{"ap-northeast-1", "us-east-1", "eu-west-1", "us-west-2"}
)

type scaleWorld struct {
	f      *awsfake.Fake
	scopes []discovery.Scope
	// per scope, what discovery must find
	instances, databases []int
	// inFlight counts requests being served (only with newScaleWorld's
	// counting server).
	inFlight *inFlight
}

// hermeticTB is hermetic for benchmarks too: no AWS settings of the
// developer leak in.
func hermeticTB(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_RDS", "AWS_ENDPOINT_URL_STS",
		"AWS_ENDPOINT_URL_REDSHIFT", "AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
	} {
		tb.Setenv(k, "")
		os.Unsetenv(k)
	}
	tb.Setenv("HOME", dir)
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

// newScaleWorld builds the 12 scopes in a fake served by a server that
// counts requests in flight, writes the shared config (profile pN signs
// with account N's key) and points the SDK at it.
func newScaleWorld(tb testing.TB) *scaleWorld {
	tb.Helper()
	dir := hermeticTB(tb)
	f := awsfake.New()
	w := &scaleWorld{f: f, inFlight: newInFlight()}
	srv := httptest.NewServer(w.inFlight.wrap(f))
	tb.Cleanup(srv.Close)
	f.URL = srv.URL

	type scope struct {
		r    *awsfake.Region
		vpc  *awsfake.VPC
		pub  *awsfake.Subnet
		priv []*awsfake.Subnet
		sgB  *awsfake.SecurityGroup
	}
	var ss []scope
	var profiles []awsfake.Profile
	for a, acct := range scaleAccounts {
		key := fmt.Sprintf("AKIDSCALE%d", a)
		account := f.Account(acct, key)
		profile := fmt.Sprintf("p%d", a)
		profiles = append(profiles, awsfake.Profile{Name: profile, AccessKey: key, Region: scaleRegions[0]})
		for g, region := range scaleRegions {
			r := account.Region(region)
			vpc := r.VPC(fmt.Sprintf("10.%d.0.0/16", a*len(scaleRegions)+g))
			s := scope{r: r, vpc: vpc}
			s.pub = vpc.Subnet(fmt.Sprintf("10.%d.0.0/20", a*len(scaleRegions)+g), awsfake.Public)
			for k := 1; k <= 3; k++ {
				s.priv = append(s.priv, vpc.Subnet(fmt.Sprintf("10.%d.%d.0/20", a*len(scaleRegions)+g, k*16)).WithNAT())
			}
			s.sgB = vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "203.0.113.0/24")
			ss = append(ss, s)
			w.scopes = append(w.scopes, discovery.Scope{Profile: profile, Region: region})
		}
	}
	w.instances = make([]int, len(ss))
	w.databases = make([]int, len(ss))

	// Instances: a third public SSH bastions, a third private SSM bastions,
	// a third plain workers.
	for i := range scaleInstances {
		k := i % len(ss)
		s := ss[k]
		n := w.instances[k]
		w.instances[k]++
		switch n % 3 {
		case 0:
			s.r.Instance(fmt.Sprintf("bastion-public-%d", n), s.pub, s.sgB).PublicIP(fmt.Sprintf("198.51.%d.%d", 100+n/250, 1+n%250))
		case 1:
			s.r.Instance(fmt.Sprintf("bastion-private-%d", n), s.priv[n%len(s.priv)], s.sgB).InstanceProfile("ssm-core").SSMOnline()
		default:
			s.r.Instance(fmt.Sprintf("worker-%d", n), s.priv[n%len(s.priv)])
		}
	}
	// Databases of every kind, each with its own group: every other one
	// admits the bastions, the rest admit nothing.
	for i := range scaleDatabases {
		k := i % len(ss)
		s := ss[k]
		n := w.databases[k]
		w.databases[k]++
		sg := s.vpc.SecurityGroup(fmt.Sprintf("db-%d", n))
		subnets := s.priv[:2]
		switch n % 5 {
		case 0:
			if n%2 == 0 {
				sg.AllowIngressFromGroup("tcp", 5432, s.sgB)
			}
			s.r.RDSInstance(fmt.Sprintf("rds-%d", n), "postgres", subnets, sg)
		case 1:
			if n%2 == 0 {
				sg.AllowIngressFromGroup("tcp", 5432, s.sgB)
			}
			s.r.AuroraCluster(fmt.Sprintf("aurora-%d", n), "aurora-postgresql", subnets, sg).Readers(1)
		case 2:
			if n%2 == 0 {
				sg.AllowIngressFromGroup("tcp", 5432, s.sgB)
			}
			s.r.RDSProxy(fmt.Sprintf("proxy-%d", n), "POSTGRESQL", subnets, sg)
		case 3:
			if n%2 == 0 {
				sg.AllowIngressFromGroup("tcp", 5439, s.sgB)
			}
			s.r.RedshiftCluster(fmt.Sprintf("redshift-%d", n), subnets, sg)
		default:
			if n%2 == 0 {
				sg.AllowIngressFromGroup("tcp", 5439, s.sgB)
			}
			s.r.ServerlessWorkgroup(fmt.Sprintf("workgroup-%d", n), subnets, sg)
		}
	}
	cfgFile, credFile, err := f.WriteSharedConfig(dir, profiles...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("AWS_CONFIG_FILE", cfgFile)
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	f.PageSize(scalePageSize)
	f.Latency(scaleLatency)
	return w
}

// check fails unless every scope was discovered whole.
func (w *scaleWorld) check(tb testing.TB, res []discovery.Result) {
	tb.Helper()
	if len(res) != len(w.scopes) {
		tb.Fatalf("%d results for %d scopes", len(res), len(w.scopes))
	}
	dbs, instances := 0, 0
	for k, r := range res {
		if r.Err != nil {
			tb.Fatalf("%s: %v", r.Scope, r.Err)
		}
		w.checkOne(tb, k, r.Inventory)
		dbs += len(r.Inventory.Databases)
		instances += w.instances[k]
	}
	if dbs != scaleDatabases || instances != scaleInstances {
		tb.Fatalf("found %d databases, %d instances; want %d, %d", dbs, instances, scaleDatabases, scaleInstances)
	}
}

func (w *scaleWorld) checkOne(tb testing.TB, k int, inv *discovery.Inventory) {
	tb.Helper()
	if len(inv.Warnings) > 0 {
		tb.Fatalf("%s: warnings %v", w.scopes[k], inv.Warnings)
	}
	if len(inv.Databases) != w.databases[k] {
		tb.Fatalf("%s: %d databases, want %d", w.scopes[k], len(inv.Databases), w.databases[k])
	}
	// Workers are listed (running instances are all candidates) but carry
	// no route.
	if len(inv.Bastions) != w.instances[k] {
		tb.Fatalf("%s: %d instances, want %d", w.scopes[k], len(inv.Bastions), w.instances[k])
	}
	managed := 0
	for _, b := range inv.Bastions {
		if b.SSM.Online() {
			managed++
		}
	}
	if want := (w.instances[k] + 1) / 3; managed != want {
		tb.Fatalf("%s: %d SSM-managed instances, want %d (all SSM pages read)", w.scopes[k], managed, want)
	}
}

// BenchmarkScale measures discovery.Scan of the 12 scopes against
// Discover of one (the first; every scope is the same size within one
// instance and one database) in the same run, and reports both wall
// times and their ratio.
func BenchmarkScale(b *testing.B) {
	w := newScaleWorld(b)
	src := New(Options{})
	ctx := context.Background()
	var one, all, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		inv, err := src.Discover(ctx, w.scopes[0])
		one += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), cpuTime()
		res := discovery.Scan(ctx, src, w.scopes, 0)
		all += time.Since(t0)
		cpu += cpuTime() - c0

		b.StopTimer()
		w.checkOne(b, 0, inv)
		w.check(b, res)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(one.Milliseconds())/n, "one-scope-ms")
	b.ReportMetric(float64(all.Milliseconds())/n, "12-scopes-ms")
	b.ReportMetric(float64(all)/float64(one), "ratio")
	// CPU of the whole process (the fake's side included) per scope: what
	// bounds the ratio on a machine with few cores.
	b.ReportMetric(float64(cpu.Milliseconds())/n/float64(len(w.scopes)), "cpu-ms/scope")
	b.ReportMetric(float64(w.inFlight.maxScopes()), "max-scopes-in-flight")
	b.ReportMetric(float64(w.inFlight.maxTotal()), "max-requests-in-flight")
}

// BenchmarkScaleAnnotate times reach.Annotate on one scope of the scale
// world (167 instances, 42 databases): the CPU-bound part of Discover.
func BenchmarkScaleAnnotate(b *testing.B) {
	w := newScaleWorld(b)
	w.f.Latency(0)
	inv, err := New(Options{}).Discover(context.Background(), w.scopes[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for range b.N {
		reach.Annotate(inv, reach.Options{})
	}
	// CPU time, GC included: steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestScanScopesConcurrently asserts, without timing anything, that
// discovery of several scopes overlaps: at some moment requests of
// different scopes were in flight together. Serial scopes would never show
// more than one. It also checks the bounds: never more scopes at once than
// Scan's concurrency, never more calls of one scope than
// Options.Concurrency.
func TestScanScopesConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 2,000 instances and 500 databases")
	}
	w := newScaleWorld(t)
	const perScope, scopesAtOnce = 3, 5
	src := New(Options{Concurrency: perScope})
	res := discovery.Scan(context.Background(), src, w.scopes, scopesAtOnce)
	w.check(t, res)
	scopes, total, maxPerScope := w.inFlight.maxScopes(), w.inFlight.maxTotal(), w.inFlight.maxOneScope()
	t.Logf("in flight at most: %d scopes, %d requests, %d requests of one scope", scopes, total, maxPerScope)
	if scopes < 2 {
		t.Errorf("at most %d scope in flight at a time: scopes were discovered one after another", scopes)
	}
	if scopes > scopesAtOnce {
		t.Errorf("%d scopes in flight at once, Scan was asked for at most %d", scopes, scopesAtOnce)
	}
	if maxPerScope > perScope {
		t.Errorf("%d requests of one scope in flight at once, Options.Concurrency is %d", maxPerScope, perScope)
	}
}

// inFlight counts the requests being served, in all and per scope (the
// access key and region of the SigV4 credential scope).
type inFlight struct {
	mu                    sync.Mutex
	now                   map[string]int
	total                 int
	peakScopes, peakTotal int
	peakOneScope          int
	scopeOf               func(*http.Request) string
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/`)

func newInFlight() *inFlight {
	return &inFlight{now: map[string]int{}, scopeOf: func(r *http.Request) string {
		if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			return m[1] + "/" + m[2]
		}
		return "?"
	}}
}

func (c *inFlight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.scopeOf(r)
		c.mu.Lock()
		c.now[s]++
		c.total++
		c.peakTotal = max(c.peakTotal, c.total)
		c.peakScopes = max(c.peakScopes, len(c.now))
		c.peakOneScope = max(c.peakOneScope, c.now[s])
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.total--
			if c.now[s]--; c.now[s] == 0 {
				delete(c.now, s)
			}
			c.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

func (c *inFlight) maxScopes() int   { c.mu.Lock(); defer c.mu.Unlock(); return c.peakScopes }
func (c *inFlight) maxTotal() int    { c.mu.Lock(); defer c.mu.Unlock(); return c.peakTotal }
func (c *inFlight) maxOneScope() int { c.mu.Lock(); defer c.mu.Unlock(); return c.peakOneScope }
