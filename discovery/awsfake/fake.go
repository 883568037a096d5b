// Package awsfake is an in-process fake of the AWS APIs that dbtunnel's
// discovery calls. It speaks the real wire protocols (EC2 query/XML; RDS,
// Redshift and STS awsquery/XML; SSM, Secrets Manager and Redshift
// Serverless JSON 1.1), so
// the real aws-sdk-go-v2 clients and the aws CLI run against it unchanged
// when pointed at its URL.
//
// A Fake holds one topology per account and region, built with a small
// fluent API:
//
//	f := awsfake.NewServer(t)
//	r := f.Account("123456789012", "AKIDPROD").Region("ap-northeast-1")
//	vpc := r.VPC("10.0.0.0/16")
//	pub := vpc.Subnet("10.0.1.0/24", awsfake.Public)
//	priv := vpc.Subnet("10.0.2.0/24").WithNAT()
//	sgB := vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "203.0.113.0/24")
//	sgDB := vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB)
//	r.Instance("bastion", pub, sgB).PublicIP("198.51.100.10")
//	r.AuroraCluster("prod-aurora", "aurora-postgresql", []*awsfake.Subnet{priv}, sgDB).Readers(1)
//
// Requests are routed by the X-Amz-Target header, else by the form's
// Action; the SigV4 credential scope names the service and the region, and
// the access key id picks the account. Signatures are not verified.
//
// Faults and knobs (Deny, ExpireKey, Throttle, Latency, PageSize) and a
// per-operation call counter serve tests and benchmarks. Everything is safe
// for concurrent use; ids are deterministic for a given build order.
package awsfake

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Fake is a fake AWS endpoint. The zero value is not usable; call New or
// NewServer.
type Fake struct {
	// URL is the base URL of the running server, set by Start.
	URL string

	mu       sync.RWMutex // topology: accounts, keys, everything built
	accounts map[string]*Account
	order    []*Account
	keys     map[string]*credential
	seq      uint64 // id counter

	kmu       sync.Mutex // knobs and counters
	denied    []string
	expired   map[string]bool
	throttles map[string]int
	latency   []latencyRule
	pageSize  int
	calls     map[string]int
	reqSeq    uint64
	sessions  map[string]*credential // keys handed out by sts:AssumeRole
	assumed   []AssumeRoleCall       // guarded by kmu
	usedCodes map[string]bool        // MFA codes spent, by serial/code; guarded by kmu

	eic eicState // EC2 Instance Connect pushes and console texts

	srv *httptest.Server
}

// credential is what an access key id maps to.
type credential struct {
	acct   *Account
	arn    string // caller ARN; "" means the account's caller
	userID string
}

type latencyRule struct {
	pattern string
	d       time.Duration
}

// New returns a Fake that is not yet serving; use it as an http.Handler or
// call Start.
func New() *Fake {
	return &Fake{
		accounts:  map[string]*Account{},
		keys:      map[string]*credential{},
		expired:   map[string]bool{},
		throttles: map[string]int{},
		calls:     map[string]int{},
		sessions:  map[string]*credential{},
	}
}

// TB is the part of testing.TB that NewServer uses.
type TB interface {
	Helper()
	Cleanup(func())
}

// NewServer returns a started Fake that closes when the test ends.
func NewServer(t TB) *Fake {
	t.Helper()
	f := New()
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// Start serves the fake on a loopback port and returns its URL.
func (f *Fake) Start() string {
	f.srv = httptest.NewServer(f)
	f.URL = f.srv.URL
	return f.URL
}

// Close stops the server started by Start.
func (f *Fake) Close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// Account returns the account with this id, creating it on first use, and
// binds the given access key ids to it. A key bound to another account
// panics: that is a mistake in the test.
func (f *Fake) Account(id string, keys ...string) *Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[id]
	if a == nil {
		a = &Account{f: f, id: id, regions: map[string]*Region{}}
		a.callerARN = "arn:aws:iam::" + id + ":user/dbtunnel"
		a.userID = "AIDA" + f.upperID(17)
		f.accounts[id] = a
		f.order = append(f.order, a)
	}
	for _, k := range keys {
		if c, ok := f.keys[k]; ok && c.acct != a {
			panic(fmt.Sprintf("awsfake: access key %s already belongs to account %s", k, c.acct.id))
		}
		f.keys[k] = &credential{acct: a}
	}
	return a
}

// Deny makes the operations fail with the service's access-denied error
// for every account. Patterns are "service:Operation" as IAM spells them
// ("ec2:DescribeVpcEndpoints", "redshift-serverless:ListWorkgroups") and
// may use * and ? ("rds:*").
func (f *Fake) Deny(ops ...string) *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.denied = append(f.denied, ops...)
	return f
}

// Allow removes every Deny made on the Fake (not those made on accounts).
func (f *Fake) Allow() *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.denied = nil
	return f
}

// ExpireKey makes every request signed with the access key fail with the
// service's expired-token error.
func (f *Fake) ExpireKey(key string) *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.expired[key] = true
	return f
}

// Throttle makes the next n calls matching the pattern fail with the
// service's throttling error (which the SDKs retry).
func (f *Fake) Throttle(op string, n int) *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.throttles[op] += n
	return f
}

// Latency delays every call matching one of the patterns (every call when
// none is given) by d before it is answered. The last matching rule wins.
func (f *Fake) Latency(d time.Duration, ops ...string) *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	if len(ops) == 0 {
		ops = []string{"*"}
	}
	for _, op := range ops {
		f.latency = append(f.latency, latencyRule{op, d})
	}
	return f
}

// PageSize caps every paginated reply at n items, whatever MaxResults or
// MaxRecords the client asked for; 0 restores the services' defaults.
func (f *Fake) PageSize(n int) *Fake {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.pageSize = n
	return f
}

// Calls reports how many requests named the operation
// ("ec2:DescribeInstances"), including failed ones.
func (f *Fake) Calls(op string) int {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	return f.calls[op]
}

// CallCounts returns a copy of every operation's call count.
func (f *Fake) CallCounts() map[string]int {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	m := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		m[k] = v
	}
	return m
}

// TotalCalls reports the number of requests served.
func (f *Fake) TotalCalls() int {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	n := 0
	for _, v := range f.calls {
		n += v
	}
	return n
}

// ResetCalls zeroes the call counters.
func (f *Fake) ResetCalls() {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.calls = map[string]int{}
}

// Env returns environment variables that point an SDK or the aws CLI at
// the fake with the given key and region.
func (f *Fake) Env(key, region string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + key,
		"AWS_SECRET_ACCESS_KEY=" + fakeSecret,
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_ENDPOINT_URL=" + f.URL,
	}
}

const fakeSecret = "awsfake-secret-not-checked"

// Profile is one profile of a shared config file written by
// WriteSharedConfig: either static credentials (AccessKey) or a role
// assumed from another profile (RoleARN and SourceProfile).
type Profile struct {
	Name          string
	AccessKey     string
	Region        string
	RoleARN       string
	SourceProfile string
}

// WriteSharedConfig writes an AWS config and credentials file (mode 0600)
// into dir whose profiles sign with the given keys and send every service
// to the fake (endpoint_url). It returns the two paths, for
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE.
func (f *Fake) WriteSharedConfig(dir string, profiles ...Profile) (configFile, credentialsFile string, err error) {
	var cfg, creds strings.Builder
	for _, p := range profiles {
		if p.Name == "default" {
			cfg.WriteString("[default]\n")
		} else {
			fmt.Fprintf(&cfg, "[profile %s]\n", p.Name)
		}
		if p.Region != "" {
			fmt.Fprintf(&cfg, "region = %s\n", p.Region)
		}
		// endpoint_url covers API clients; the services section also
		// covers the STS client the SDK builds for role_arn profiles
		// before it reads endpoint_url.
		fmt.Fprintf(&cfg, "endpoint_url = %s\nservices = awsfake\n", f.URL)
		if p.RoleARN != "" {
			fmt.Fprintf(&cfg, "role_arn = %s\nsource_profile = %s\n", p.RoleARN, p.SourceProfile)
		}
		cfg.WriteString("\n")
		if p.AccessKey != "" {
			fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", p.Name, p.AccessKey, fakeSecret)
		}
	}
	cfg.WriteString("[services awsfake]\n")
	for _, svc := range []string{"ec2", "ec2_instance_connect", "rds", "redshift", "redshift_serverless", "secretsmanager", "ssm", "sts"} {
		fmt.Fprintf(&cfg, "%s =\n  endpoint_url = %s\n", svc, f.URL)
	}
	configFile = filepath.Join(dir, "config")
	credentialsFile = filepath.Join(dir, "credentials")
	if err := os.WriteFile(configFile, []byte(cfg.String()), 0o600); err != nil {
		return "", "", fmt.Errorf("awsfake: write config: %w", err)
	}
	if err := os.WriteFile(credentialsFile, []byte(creds.String()), 0o600); err != nil {
		return "", "", fmt.Errorf("awsfake: write credentials: %w", err)
	}
	return configFile, credentialsFile, nil
}

// ServeHTTP answers one AWS API request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			f.writeError(w, nil, &apiError{http.StatusInternalServerError, "InternalFailure", fmt.Sprint("awsfake: ", v)})
		}
	}()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "awsfake: read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	c, aerr := f.parse(r, body)
	if aerr != nil {
		f.writeError(w, c, aerr)
		return
	}
	op := c.service + ":" + c.op
	delay, throttled, denied, expired := f.faults(op, c.key)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if aerr := f.authenticate(c, expired); aerr != nil {
		f.writeError(w, c, aerr)
		return
	}
	if denied || c.acct.denies(op) {
		f.writeError(w, c, c.accessDenied())
		return
	}
	if throttled {
		f.writeError(w, c, throttling(c.proto))
		return
	}
	h := handlers[c.service][c.op]
	if h == nil {
		f.writeError(w, c, unknownOperation(c))
		return
	}
	f.mu.RLock()
	c.region = c.acct.regionOrEmpty(c.regionName)
	out, aerr := h(c)
	f.mu.RUnlock()
	if aerr != nil {
		f.writeError(w, c, aerr)
		return
	}
	f.writeResult(w, c, out)
}

// faults counts the call and reports the knobs that apply to it.
func (f *Fake) faults(op, key string) (delay time.Duration, throttled, denied, expired bool) {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.calls[op]++
	for _, l := range f.latency {
		if match(l.pattern, op) {
			delay = l.d
		}
	}
	for _, p := range f.denied {
		if match(p, op) {
			denied = true
		}
	}
	// Deterministic order so that overlapping patterns drain predictably.
	pats := make([]string, 0, len(f.throttles))
	for p, n := range f.throttles {
		if n > 0 {
			pats = append(pats, p)
		}
	}
	sort.Strings(pats)
	for _, p := range pats {
		if match(p, op) {
			f.throttles[p]--
			throttled = true
			break
		}
	}
	return delay, throttled, denied, f.expired[key]
}

func (f *Fake) nextRequestID() string {
	f.kmu.Lock()
	f.reqSeq++
	n := f.reqSeq
	f.kmu.Unlock()
	return uuidFrom(mix(n ^ 0x5eed))
}

// authenticate maps the access key to an account.
func (f *Fake) authenticate(c *call, expired bool) *apiError {
	f.mu.RLock()
	cred := f.keys[c.key]
	f.mu.RUnlock()
	if cred == nil {
		f.kmu.Lock()
		cred = f.sessions[c.key]
		f.kmu.Unlock()
	}
	if cred == nil {
		return invalidKey(c.proto)
	}
	if expired {
		return expiredToken(c.proto)
	}
	c.acct = cred.acct
	c.cred = cred
	return nil
}

func (f *Fake) addSession(key string, c *credential) {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.sessions[key] = c
}

// match reports whether an operation name matches a pattern with * and ?.
func match(pattern, s string) bool {
	if pattern == s {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// Account is one AWS account in the fake.
type Account struct {
	f         *Fake
	id        string
	callerARN string
	userID    string
	regions   map[string]*Region
	denied    []string // guarded by f.kmu
	// externalID, when set, is what sts:AssumeRole into this account
	// must present (a trust policy with sts:ExternalId); guarded by f.kmu.
	externalID string
	// mfaSerial, when set, is the MFA device sts:AssumeRole into this
	// account must present a fresh code of; guarded by f.kmu.
	mfaSerial string
}

// RequireExternalID makes roles in this account assumable only with id as
// the external ID, as a trust policy condition on sts:ExternalId does.
func (a *Account) RequireExternalID(id string) *Account {
	a.f.kmu.Lock()
	defer a.f.kmu.Unlock()
	a.externalID = id
	return a
}

// ID returns the 12-digit account id.
func (a *Account) ID() string { return a.id }

// Keys binds more access key ids to the account.
func (a *Account) Keys(keys ...string) *Account { return a.f.Account(a.id, keys...) }

// Caller sets the identity GetCallerIdentity reports for the account's
// keys (default arn:aws:iam::ACCOUNT:user/dbtunnel).
func (a *Account) Caller(arn string) *Account {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.callerARN = arn
	return a
}

// Deny makes the operations fail with access denied for this account only.
func (a *Account) Deny(ops ...string) *Account {
	a.f.kmu.Lock()
	defer a.f.kmu.Unlock()
	a.denied = append(a.denied, ops...)
	return a
}

func (a *Account) denies(op string) bool {
	a.f.kmu.Lock()
	defer a.f.kmu.Unlock()
	for _, p := range a.denied {
		if match(p, op) {
			return true
		}
	}
	return false
}

// Region returns the account's topology in a region, creating it on first
// use.
func (a *Account) Region(name string) *Region {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	r := a.regions[name]
	if r == nil {
		r = &Region{f: a.f, acct: a, name: name}
		a.regions[name] = r
	}
	return r
}

// regionOrEmpty returns the region or an empty stand-in; f.mu is held.
func (a *Account) regionOrEmpty(name string) *Region {
	if r := a.regions[name]; r != nil {
		return r
	}
	return &Region{f: a.f, acct: a, name: name}
}

var _ http.Handler = (*Fake)(nil)
