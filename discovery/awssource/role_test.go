package awssource

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// countingPrompt answers with a fresh six-digit code each time and
// remembers what it was asked.
type countingPrompt struct {
	mu   sync.Mutex
	asks []MFARequest
}

func (p *countingPrompt) prompt(req MFARequest) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asks = append(p.asks, req)
	return fmt.Sprintf("%06d", 400000+len(p.asks)), nil
}

// One role (with its external ID and MFA device) is assumed once for any
// number of configurations and regions; another role is another session.
func TestIdentitiesAssumeOncePerProfileAndRole(t *testing.T) {
	const home, prod, serial = "111111111111", "222222222222", "arn:aws:iam::111111111111:mfa/me"
	f := awsfake.NewServer(t)
	f.Account(home, "AKIDHOME")
	f.Account(prod).RequireMFA(serial).RequireExternalID("ext-1")
	f.Account("333333333333")
	base := func(region string) aws.Config {
		return aws.Config{
			Region:       region,
			BaseEndpoint: aws.String(f.URL),
			Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDHOME", "s", "")),
		}
	}
	var p countingPrompt
	ids := &Identities{}
	ids.SetPrompt(p.prompt)
	role := discovery.Role{ARN: "arn:aws:iam::" + prod + ":role/ops", ExternalID: "ext-1", MFASerial: serial, SourceProfile: "base"}
	ctx := context.Background()
	var keys []string
	for _, region := range []string{"us-east-1", "ap-northeast-1", "us-east-1"} {
		ac := ids.Apply(base(region), discovery.Scope{Profile: "prod", Region: region, Role: role})
		c, err := ac.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		keys = append(keys, c.AccessKeyID)
	}
	calls := f.AssumeRoleCalls()
	if len(calls) != 1 || len(p.asks) != 1 || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("%d AssumeRole calls, %d prompts, keys %v: want one session", len(calls), len(p.asks), keys)
	}
	if c := calls[0]; c.SerialNumber != serial || c.TokenCode != "400001" || c.ExternalID != "ext-1" || c.AccessKeyID != keys[0] {
		t.Errorf("AssumeRole %+v", c)
	}
	if a := p.asks[0]; a != (MFARequest{Serial: serial, Role: role.ARN, Profile: "prod"}) {
		t.Errorf("prompt %+v", a)
	}

	other := discovery.Role{ARN: "arn:aws:iam::333333333333:role/ops", SourceProfile: "base"}
	ac := ids.Apply(base("us-east-1"), discovery.Scope{Profile: "dev", Role: other})
	if _, err := ac.Credentials.Retrieve(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.AssumeRoleCalls()); n != 2 || len(p.asks) != 1 {
		t.Errorf("another role: %d AssumeRole calls, %d prompts; want 2 and still 1", n, len(p.asks))
	}
}

// A profile of the AWS config files with mfa_serial gets its code through
// the same prompt (the SDK refuses such a profile without one).
func TestIdentitiesMFAInSharedConfig(t *testing.T) {
	const serial = "arn:aws:iam::111111111111:mfa/me"
	dir := hermetic(t)
	f := awsfake.NewServer(t)
	f.Account("111111111111", "AKIDHOME")
	f.Account("222222222222").RequireMFA(serial)
	// A services section reaches the STS client the SDK builds for the
	// profile's role, which endpoint_url does not.
	writeFile(t, filepath.Join(dir, "config"), "[profile base]\nregion = us-east-1\nservices = fake\n"+
		"[profile ops]\nregion = us-east-1\nservices = fake\nrole_arn = arn:aws:iam::222222222222:role/ops\nsource_profile = base\nmfa_serial = "+serial+"\n"+
		"[services fake]\nsts =\n  endpoint_url = "+f.URL+"\n")
	writeFile(t, filepath.Join(dir, "credentials"), "[base]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n")
	var p countingPrompt
	ids := &Identities{}
	ids.SetPrompt(p.prompt)
	ctx := context.Background()
	for range 2 {
		ac, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile("ops"), ids.LoadOption("ops"))
		if err != nil {
			t.Fatal(err)
		}
		ac = ids.Apply(ac, discovery.Scope{Profile: "ops"})
		if _, err := ac.Credentials.Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
	}
	calls := f.AssumeRoleCalls()
	if len(calls) != 1 || calls[0].SerialNumber != serial || calls[0].TokenCode != "400001" {
		t.Fatalf("AssumeRole calls %+v", calls)
	}
	if len(p.asks) != 1 || p.asks[0].Profile != "ops" || p.asks[0].Serial != serial {
		t.Errorf("prompts %+v", p.asks)
	}
}

// The code is read a byte at a time: what follows its line is left for
// whoever reads next (exec's command, on a shared stdin).
func TestAskMFAReadsOneLine(t *testing.T) {
	r := strings.NewReader(" 123456 \nSELECT 1;\n")
	var out strings.Builder
	code, err := askMFA(r, &out, MFARequest{Serial: "arn:aws:iam::1:mfa/me", Profile: "prod"})
	if err != nil || code != "123456" {
		t.Fatalf("code %q, %v", code, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "SELECT 1;\n" {
		t.Errorf("left %q, want the next line untouched", rest)
	}
	if out.String() != "MFA code for arn:aws:iam::1:mfa/me (profile prod): " {
		t.Errorf("prompt %q", out.String())
	}
	if _, err := askMFA(strings.NewReader("\n"), io.Discard, MFARequest{Serial: "s", Profile: "p"}); err == nil ||
		!strings.Contains(err.Error(), "read MFA code for s (profile p): empty") {
		t.Errorf("empty line: %v", err)
	}
}
