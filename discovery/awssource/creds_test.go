package awssource

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"

	"github.com/dbtunnel/dbtunnel/discovery"
)

func TestSSOLoginError(t *testing.T) {
	for name, cfg := range map[string]string{
		"legacy": "[profile dev]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n" +
			"sso_account_id = 123456789012\nsso_role_name = Dev\nregion = ap-northeast-1\n",
		"sso-session": "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = ap-northeast-1\n" +
			"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
		"assume-role from sso": "[profile dev]\nrole_arn = arn:aws:iam::210987654321:role/Admin\nsource_profile = base\nregion = ap-northeast-1\n" +
			"[profile base]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n" +
			"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := hermetic(t)
			writeFile(t, filepath.Join(dir, "config"), cfg)
			// No token in ~/.aws/sso/cache: never logged in.
			src := New(Options{NewClients: fixture().clientsForCfg})
			_, err := src.Discover(context.Background(), discovery.Scope{Profile: "dev"})
			var le *LoginError
			if !errors.As(err, &le) {
				t.Fatalf("want *LoginError, got %T: %v", err, err)
			}
			eq(t, "profile", le.Profile, "dev")
			eq(t, "command", le.Command(), "aws sso login --profile dev")
			if !strings.Contains(err.Error(), "run aws sso login --profile dev") || !strings.HasPrefix(err.Error(), "discover dev/ap-northeast-1: ") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestSSOExpiredToken(t *testing.T) {
	dir := hermetic(t)
	writeFile(t, filepath.Join(dir, "config"), "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = ap-northeast-1\n"+
		"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n")
	// A token that expired an hour ago, with nothing to refresh it.
	path, err := ssocreds.StandardCachedTokenFilepath("corp")
	if err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	writeFile(t, path, `{"accessToken":"tok","expiresAt":"`+expired+`","region":"us-east-1","startUrl":"https://example.awsapps.com/start"}`)
	_, err = New(Options{NewClients: fixture().clientsForCfg}).Discover(context.Background(), discovery.Scope{Profile: "dev"})
	var le *LoginError
	if !errors.As(err, &le) || !isSSOError(le.Err) {
		t.Fatalf("want *LoginError from the SDK's SSO error, got %T: %v", err, err)
	}
	if !strings.HasSuffix(err.Error(), "run aws sso login --profile dev") {
		t.Errorf("message: %v", err)
	}
}

func (f *fakeAWS) clientsForCfg(aws.Config) *Clients { return f.clients() }

func TestNoCredentials(t *testing.T) {
	hermetic(t)
	src := New(Options{NewClients: fixture().clientsForCfg})
	_, err := src.Discover(context.Background(), discovery.Scope{Region: "us-east-1"})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Reason != CredentialsMissing {
		t.Fatalf("want missing credentials, got %T: %v", err, err)
	}
	if !strings.Contains(err.Error(), "no AWS credentials found for profile default") {
		t.Errorf("message: %v", err)
	}
}

func TestNoCredentialsNamedProfile(t *testing.T) {
	dir := hermetic(t)
	writeFile(t, filepath.Join(dir, "config"), "[profile empty]\nregion = us-east-1\n")
	src := New(Options{NewClients: fixture().clientsForCfg})
	_, err := src.Discover(context.Background(), discovery.Scope{Profile: "empty"})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Reason != CredentialsMissing || ce.Profile != "empty" {
		t.Fatalf("want missing credentials for empty, got %T: %v", err, err)
	}
}

func TestAWSProfileNamesTheProfile(t *testing.T) {
	dir := hermetic(t)
	writeFile(t, filepath.Join(dir, "config"), "[profile envprof]\nregion = us-east-1\n")
	t.Setenv("AWS_PROFILE", "envprof")
	_, err := New(Options{NewClients: fixture().clientsForCfg}).Discover(context.Background(), discovery.Scope{})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Profile != "envprof" {
		t.Fatalf("got %T: %v", err, err)
	}
}

func TestExpiredAndRejectedCredentials(t *testing.T) {
	for _, tc := range []struct {
		code, op string
		reason   CredentialsReason
		msg      string
	}{
		{"ExpiredToken", opCallerIdentity, CredentialsExpired, "discover prod/ap-northeast-1: sts:GetCallerIdentity: credentials for profile prod have expired"},
		{"ExpiredTokenException", opInstanceInfo, CredentialsExpired, "discover prod/ap-northeast-1: ssm:DescribeInstanceInformation: credentials for profile prod have expired"},
		{"InvalidClientTokenId", opCallerIdentity, CredentialsRejected, "discover prod/ap-northeast-1: sts:GetCallerIdentity: credentials for profile prod were rejected in ap-northeast-1"},
		{"AuthFailure", opInstances, CredentialsRejected, "discover prod/ap-northeast-1: ec2:DescribeInstances: credentials for profile prod were rejected"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			dir := hermetic(t)
			writeFile(t, filepath.Join(dir, "credentials"), "[prod]\naws_access_key_id = AKIDPROD\naws_secret_access_key = x\n")
			f := fixture()
			f.errs = map[string]error{tc.op: apiErr(tc.code)}
			src := New(Options{NewClients: f.clientsForCfg})
			_, err := src.Discover(context.Background(), discovery.Scope{Profile: "prod", Region: "ap-northeast-1"})
			var ce *CredentialsError
			if !errors.As(err, &ce) || ce.Reason != tc.reason {
				t.Fatalf("want reason %d, got %T: %v", tc.reason, err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.msg) {
				t.Errorf("message:\n got  %s\n want %s…", err, tc.msg)
			}
		})
	}
}

func TestExpiredTokenOnSSOProfileAsksForLogin(t *testing.T) {
	if err := apiFailure(apiErr("ExpiredTokenException"), "dev", "us-east-1", true); err == nil {
		t.Fatal("want an error")
	} else if le := (*LoginError)(nil); !errors.As(err, &le) {
		t.Fatalf("want *LoginError, got %T", err)
	}
}

func TestCredentialsFailureClassification(t *testing.T) {
	for _, tc := range []struct {
		err    error
		sso    bool
		login  bool
		reason CredentialsReason
	}{
		{errors.New("refresh cached SSO token failed, unable to refresh SSO token, operation error SSO OIDC: CreateToken, InvalidGrantException"), false, true, 0},
		{apiErr("UnauthorizedException"), false, true, 0},
		{errors.New("anything at all"), true, true, 0},
		{errors.New("failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled"), false, false, CredentialsMissing},
		{errors.New("failed to refresh cached credentials, login session has expired, please reauthenticate"), false, false, CredentialsExpired},
		{apiErr("AccessDenied"), false, false, CredentialsUnavailable},
	} {
		err := credentialsFailure(tc.err, "p", "r", tc.sso)
		var le *LoginError
		var ce *CredentialsError
		switch {
		case tc.login && !errors.As(err, &le):
			t.Errorf("%v: want login error, got %v", tc.err, err)
		case !tc.login && (!errors.As(err, &ce) || ce.Reason != tc.reason):
			t.Errorf("%v: want reason %d, got %v", tc.err, tc.reason, err)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: cause not wrapped", tc.err)
		}
	}
}
