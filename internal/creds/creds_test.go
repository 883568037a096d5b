package creds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecrets is Secrets Manager in memory, by secret id.
type fakeSecrets struct {
	values map[string]*secretsmanager.GetSecretValueOutput
	asked  []string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	f.asked = append(f.asked, id)
	if v, ok := f.values[id]; ok {
		return v, nil
	}
	return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
}

func stringSecret(s string) *secretsmanager.GetSecretValueOutput {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s)}
}

const pw = "s3cr3t-P@ss/word%"

func TestSecret(t *testing.T) {
	sm := &fakeSecrets{values: map[string]*secretsmanager.GetSecretValueOutput{
		"arn:rds": stringSecret(`{"username":"postgres","password":"` + pw + `"}`),
		// What the RDS console's "credentials for RDS database" secrets hold.
		"app/db":  stringSecret(`{"username":"app","password":"` + pw + `","engine":"postgres","host":"db.example.com","port":5432,"dbname":"shop"}`),
		"broken":  stringSecret(`{"username":"app","password":"` + pw), // cut short
		"nopw":    stringSecret(`{"username":"app"}`),
		"numeric": stringSecret(`{"username":"app","password":` + "123456" + `}`),
		"binary":  {SecretBinary: []byte(pw)},
	}}
	f := &Fetcher{Secrets: sm}
	ctx := context.Background()

	c, err := f.Fetch(ctx, Request{Target: "prod", Kind: KindSecret, SecretID: "arn:rds"})
	if err != nil || c.User != "postgres" || c.Password != pw || !c.Expires.IsZero() || c.From != "secret arn:rds" {
		t.Fatalf("rds secret: %#v %v", c, err)
	}
	c, err = f.Fetch(ctx, Request{Target: "prod", Kind: KindSecret, SecretID: "app/db", User: "app"})
	if err != nil || c.User != "app" || c.Password != pw {
		t.Fatalf("named secret with extra keys: %#v %v", c, err)
	}

	for _, tc := range []struct {
		id, user, want string
	}{
		{"app/db", "postgres", "credentials for prod from secret app/db: the secret is for user app, not postgres"},
		{"broken", "", "credentials for prod from secret broken: " + ErrBadSecret.Error()},
		{"nopw", "", ErrBadSecret.Error()},
		{"numeric", "", ErrBadSecret.Error()},
		{"binary", "", "secret holds binary data"},
		{"missing", "", "credentials for prod from secret missing: ResourceNotFoundException"},
		{"", "", "no secret named"},
	} {
		_, err := f.Fetch(ctx, Request{Target: "prod", Kind: KindSecret, SecretID: tc.id, User: tc.user})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.id, err, tc.want)
			continue
		}
		// Not even a piece of the password: the JSON decoder quotes
		// what it chokes on, so the bytes of a cut-short secret could
		// otherwise show.
		for _, piece := range []string{pw, "s3cr3t", "123456"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("%s: error shows the secret: %v", tc.id, err)
			}
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Target != "prod" {
			t.Errorf("%s: want *Error naming the target, got %T", tc.id, err)
		}
	}
	var nf *smtypes.ResourceNotFoundException
	if _, err := f.Fetch(ctx, Request{Kind: KindSecret, SecretID: "missing"}); !errors.As(err, &nf) {
		t.Errorf("the API error should unwrap: %v", err)
	}
}

// A Credential printed, logged or marshalled by mistake shows no password.
func TestCredentialRedacts(t *testing.T) {
	c := Credential{User: "app", Password: pw, Expires: time.Unix(1700000000, 0), From: "secret x"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("got", "cred", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("got", "cred", c)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v", &c), logged.String(), string(js)} {
		if strings.Contains(s, pw) || strings.Contains(s, "s3cr3t") {
			t.Errorf("password shown: %s", s)
		}
		if !strings.Contains(s, "app") {
			t.Errorf("user missing: %s", s)
		}
	}
}

// The token is signed for the real endpoint: host, port, user, region and
// a 15-minute expiry are all in the presigned URL it is.
func TestIAMToken(t *testing.T) {
	now := time.Now()
	f := &Fetcher{
		Credentials: credentials.NewStaticCredentialsProvider("AKIDIAMTEST", "secret-key", ""),
		Region:      "us-east-1",
	}
	host := "prod-aurora.cluster-abc123.ap-northeast-1.rds.amazonaws.com"
	c, err := f.Fetch(context.Background(), Request{Target: "prod", Kind: KindIAMToken, User: "iam_app", Host: host, Port: 5433, Region: "ap-northeast-1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "iam_app" || c.Expires.Before(now.Add(14*time.Minute)) || c.Expires.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("credential: %#v, expires %v", c, c.Expires)
	}
	u, err := url.Parse("https://" + c.Password)
	if err != nil {
		t.Fatalf("token is not a presigned URL: %v", err)
	}
	q := u.Query()
	if u.Hostname() != host || u.Port() != "5433" || (u.Path != "" && u.Path != "/") {
		t.Errorf("signed for %s (path %q), want %s:5433", u.Host, u.Path, host)
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	checks := map[string]bool{
		"Action=connect":      q.Get("Action") == "connect",
		"DBUser=iam_app":      q.Get("DBUser") == "iam_app",
		"X-Amz-Expires=900":   q.Get("X-Amz-Expires") == "900",
		"SigV4":               q.Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" && q.Get("X-Amz-Signature") != "",
		"key id":              len(cred) == 5 && cred[0] == "AKIDIAMTEST",
		"region ap-northeast": len(cred) == 5 && cred[2] == "ap-northeast-1",
		"service rds-db":      len(cred) == 5 && cred[3] == "rds-db",
		"host signed":         strings.Contains(q.Get("X-Amz-SignedHeaders"), "host"),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("token: %s does not hold (%s)", name, u.RawQuery)
		}
	}
	if d, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date")); err != nil || d.Before(now.Add(-time.Minute).UTC()) || d.After(time.Now().Add(time.Minute)) {
		t.Errorf("X-Amz-Date %q: %v", q.Get("X-Amz-Date"), err)
	}

	// The configuration's region when the target names none.
	c, err = f.Fetch(context.Background(), Request{Kind: KindIAMToken, User: "u", Host: host, Port: 5432})
	if u, _ := url.Parse("https://" + c.Password); err != nil || !strings.Contains(u.Query().Get("X-Amz-Credential"), "/us-east-1/rds-db/") {
		t.Errorf("default region: %v %s", err, c.Password)
	}

	for _, tc := range []struct {
		r    Request
		want string
	}{
		{Request{Kind: KindIAMToken, User: "u", Host: "127.0.0.1", Port: 15432, Region: "us-east-1"}, "must name the database's own endpoint"},
		{Request{Kind: KindIAMToken, User: "u", Host: "::1", Port: 15432, Region: "us-east-1"}, "must name the database's own endpoint"},
		{Request{Kind: KindIAMToken, Host: host, Port: 5432}, "no database user"},
		{Request{Kind: KindIAMToken, User: "u", Port: 5432}, "no database endpoint"},
	} {
		if _, err := f.Fetch(context.Background(), tc.r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
	noRegion := &Fetcher{Credentials: f.Credentials}
	if _, err := noRegion.Fetch(context.Background(), Request{Kind: KindIAMToken, User: "u", Host: host, Port: 5432}); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("no region: %v", err)
	}
}

type fakeRedshift struct {
	in  *redshift.GetClusterCredentialsInput
	err error
}

func (f *fakeRedshift) GetClusterCredentials(_ context.Context, in *redshift.GetClusterCredentialsInput, _ ...func(*redshift.Options)) (*redshift.GetClusterCredentialsOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &redshift.GetClusterCredentialsOutput{DbUser: aws.String("IAM:" + aws.ToString(in.DbUser)), DbPassword: aws.String(pw), Expiration: &exp}, nil
}

type fakeServerless struct {
	in *redshiftserverless.GetCredentialsInput
}

func (f *fakeServerless) GetCredentials(_ context.Context, in *redshiftserverless.GetCredentialsInput, _ ...func(*redshiftserverless.Options)) (*redshiftserverless.GetCredentialsOutput, error) {
	f.in = in
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &redshiftserverless.GetCredentialsOutput{DbUser: aws.String("IAMR:analyst"), DbPassword: aws.String(pw), Expiration: &exp}, nil
}

func TestRedshiftCluster(t *testing.T) {
	rs := &fakeRedshift{}
	f := &Fetcher{Redshift: rs}
	c, err := f.Fetch(context.Background(), Request{
		Target: "wh", Kind: KindRedshiftCluster, Cluster: "warehouse", User: "analyst", DBName: "dev",
		Duration: 30 * time.Minute, AutoCreate: true, DBGroups: []string{"readers"},
	})
	if err != nil || c.User != "IAM:analyst" || c.Password != pw || c.Expires.Year() != 2030 {
		t.Fatalf("credential: %#v %v", c, err)
	}
	in := rs.in
	if aws.ToString(in.ClusterIdentifier) != "warehouse" || aws.ToString(in.DbUser) != "analyst" || aws.ToString(in.DbName) != "dev" ||
		aws.ToInt32(in.DurationSeconds) != 1800 || !aws.ToBool(in.AutoCreate) || len(in.DbGroups) != 1 || in.DbGroups[0] != "readers" {
		t.Errorf("request: %+v", in)
	}
	if _, err := f.Fetch(context.Background(), Request{Kind: KindRedshiftCluster, Cluster: "warehouse"}); err == nil || !strings.Contains(err.Error(), "no database user") {
		t.Errorf("no user: %v", err)
	}
	// Unset options are left to the service.
	if _, err := f.Fetch(context.Background(), Request{Kind: KindRedshiftCluster, Cluster: "warehouse", User: "a"}); err != nil || rs.in.DurationSeconds != nil || rs.in.AutoCreate != nil || rs.in.DbName != nil {
		t.Errorf("defaults: %+v %v", rs.in, err)
	}
	rs.err = errors.New("AccessDenied: not allowed")
	if _, err := f.Fetch(context.Background(), Request{Target: "wh", Kind: KindRedshiftCluster, Cluster: "warehouse", User: "a"}); err == nil ||
		err.Error() != "credentials for wh from redshift:GetClusterCredentials for a on warehouse: AccessDenied: not allowed" {
		t.Errorf("error: %v", err)
	}
}

func TestRedshiftServerless(t *testing.T) {
	s := &fakeServerless{}
	f := &Fetcher{Serverless: s}
	c, err := f.Fetch(context.Background(), Request{Kind: KindRedshiftServerless, Workgroup: "analytics", DBName: "dev", Duration: time.Hour})
	if err != nil || c.User != "IAMR:analyst" || c.Password != pw || c.From != "redshift-serverless:GetCredentials on analytics" {
		t.Fatalf("credential: %#v %v", c, err)
	}
	if aws.ToString(s.in.WorkgroupName) != "analytics" || aws.ToString(s.in.DbName) != "dev" || aws.ToInt32(s.in.DurationSeconds) != 3600 {
		t.Errorf("request: %+v", s.in)
	}
}
