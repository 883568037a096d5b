// Package creds fetches database credentials from AWS: a password kept in
// Secrets Manager (the one RDS or Redshift manages for the admin user, or
// any secret holding JSON with username and password), an IAM database
// authentication token, or Redshift's temporary credentials.
//
// A Credential's password only ever leaves this package as a field for the
// caller to put into a child's environment; its String, GoString and slog
// forms redact it, and no error built here contains it.
package creds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Kinds of credential a Request asks for.
const (
	// KindSecret reads JSON {"username": ..., "password": ...} from a
	// Secrets Manager secret: RDS's MasterUserSecret, a Serverless
	// namespace's admin secret, or one the user names.
	KindSecret = "secret"
	// KindIAMToken signs an RDS IAM authentication token for the real
	// endpoint.
	KindIAMToken = "iam"
	// KindRedshiftCluster calls redshift:GetClusterCredentials.
	KindRedshiftCluster = "redshift-cluster"
	// KindRedshiftServerless calls redshift-serverless:GetCredentials.
	KindRedshiftServerless = "redshift-serverless"
)

// IAMTokenLifetime is how long an RDS IAM authentication token is accepted
// for new logins.
const IAMTokenLifetime = 15 * time.Minute

// Request says which credential to fetch for a target.
type Request struct {
	Target string // the target's name, for messages
	Kind   string
	// SecretID is the secret's ARN or name (KindSecret).
	SecretID string
	// User is the database user: the login an IAM token or Redshift
	// cluster credentials are for. For a secret, when set, it must match
	// the secret's username.
	User string
	// Host and Port are the database's real endpoint, which an IAM token
	// is signed for; never the tunnel's local end.
	Host string
	Port int
	// Region signs the token; "" uses the AWS configuration's.
	Region string
	// Cluster is the Redshift cluster id; Workgroup the Serverless
	// workgroup.
	Cluster, Workgroup string
	DBName             string
	// Duration of Redshift temporary credentials; 0 leaves the service's
	// default (15 minutes).
	Duration   time.Duration
	AutoCreate bool
	DBGroups   []string
}

// Describe names where the credential comes from, for messages and logs.
func (r Request) Describe() string {
	switch r.Kind {
	case KindSecret:
		return "secret " + r.SecretID
	case KindIAMToken:
		return "IAM token for " + r.User + "@" + net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	case KindRedshiftCluster:
		return "redshift:GetClusterCredentials for " + r.User + " on " + r.Cluster
	case KindRedshiftServerless:
		return "redshift-serverless:GetCredentials on " + r.Workgroup
	}
	return r.Kind
}

// Credential is a database login.
type Credential struct {
	User     string
	Password string
	// Expires is when the password stops working for new logins; zero
	// when it does not expire.
	Expires time.Time
	// From describes the source (Request.Describe).
	From string
}

const redacted = "xxxxx"

// String never shows the password.
func (c Credential) String() string {
	return fmt.Sprintf("user %s, password %s (%s)", c.User, redacted, c.From)
}

// GoString keeps %#v from printing the password.
func (c Credential) GoString() string { return "creds.Credential{" + c.String() + "}" }

// LogValue keeps slog from printing the password.
func (c Credential) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("user", c.User), slog.String("from", c.From)}
	if !c.Expires.IsZero() {
		attrs = append(attrs, slog.Time("expires", c.Expires))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON keeps an accidental json.Marshal from writing the password.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"user": c.User, "password": redacted, "from": c.From})
}

// The narrow interfaces below list the calls this package makes; the SDK
// clients satisfy them, and tests stand in-memory fakes for them.

// SecretsAPI is the part of the Secrets Manager client used here.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// RedshiftAPI is the part of the Redshift client used here.
type RedshiftAPI interface {
	GetClusterCredentials(ctx context.Context, in *redshift.GetClusterCredentialsInput, optFns ...func(*redshift.Options)) (*redshift.GetClusterCredentialsOutput, error)
}

// ServerlessAPI is the part of the Redshift Serverless client used here.
type ServerlessAPI interface {
	GetCredentials(ctx context.Context, in *redshiftserverless.GetCredentialsInput, optFns ...func(*redshiftserverless.Options)) (*redshiftserverless.GetCredentialsOutput, error)
}

// TokenBuilder signs an RDS IAM authentication token; auth.BuildAuthToken
// is one.
type TokenBuilder func(ctx context.Context, endpoint, region, dbUser string, creds aws.CredentialsProvider, optFns ...func(*auth.BuildAuthTokenOptions)) (string, error)

// Fetcher fetches credentials with one AWS identity in one region.
type Fetcher struct {
	Secrets    SecretsAPI
	Redshift   RedshiftAPI
	Serverless ServerlessAPI
	// Credentials sign IAM tokens.
	Credentials aws.CredentialsProvider
	// Region is the default region for IAM tokens.
	Region     string
	BuildToken TokenBuilder
	Now        func() time.Time
}

// NewFromAWS builds a Fetcher on the SDK clients of cfg (endpoint
// overrides included).
func NewFromAWS(cfg aws.Config) *Fetcher {
	return &Fetcher{
		Secrets:     secretsmanager.NewFromConfig(cfg),
		Redshift:    redshift.NewFromConfig(cfg),
		Serverless:  redshiftserverless.NewFromConfig(cfg),
		Credentials: cfg.Credentials,
		Region:      cfg.Region,
		BuildToken:  auth.BuildAuthToken,
	}
}

// Error is a failure to fetch a credential. It names the target and the
// source, never the secret.
type Error struct {
	Target string
	From   string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("credentials for %s from %s: %v", e.Target, e.From, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrBadSecret means a secret's value is not JSON with a username and a
// password.
var ErrBadSecret = errors.New(`secret value is not JSON with "username" and "password" strings`)

// Fetch returns the credential r asks for.
func (f *Fetcher) Fetch(ctx context.Context, r Request) (Credential, error) {
	var (
		c   Credential
		err error
	)
	switch r.Kind {
	case KindSecret:
		c, err = f.secret(ctx, r)
	case KindIAMToken:
		c, err = f.iamToken(ctx, r)
	case KindRedshiftCluster:
		c, err = f.redshiftCluster(ctx, r)
	case KindRedshiftServerless:
		c, err = f.redshiftServerless(ctx, r)
	default:
		err = fmt.Errorf("unknown kind %q", r.Kind)
	}
	if err != nil {
		return Credential{}, &Error{Target: r.Target, From: r.Describe(), Err: err}
	}
	c.From = r.Describe()
	return c, nil
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) secret(ctx context.Context, r Request) (Credential, error) {
	if r.SecretID == "" {
		return Credential{}, errors.New("no secret named")
	}
	out, err := f.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.SecretID)})
	if err != nil {
		return Credential{}, err
	}
	if out.SecretString == nil {
		return Credential{}, errors.New("secret holds binary data; want JSON with username and password")
	}
	// The decoder's own errors may quote the bytes they choke on: a
	// piece of the password. Only a fixed message leaves here.
	var v struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if json.Unmarshal([]byte(*out.SecretString), &v) != nil || v.Username == nil || v.Password == nil || *v.Password == "" {
		return Credential{}, ErrBadSecret
	}
	if r.User != "" && r.User != *v.Username {
		return Credential{}, fmt.Errorf("the secret is for user %s, not %s: remove user from the target or name another secret", *v.Username, r.User)
	}
	return Credential{User: *v.Username, Password: *v.Password}, nil
}

func (f *Fetcher) iamToken(ctx context.Context, r Request) (Credential, error) {
	switch {
	case r.User == "":
		return Credential{}, errors.New("no database user: set user in the target")
	case r.Host == "" || r.Port == 0:
		return Credential{}, errors.New("no database endpoint to sign for")
	}
	if ip := net.ParseIP(r.Host); ip != nil && ip.IsLoopback() {
		// A token signed for the tunnel's local end is refused by RDS.
		return Credential{}, fmt.Errorf("refusing to sign for %s: the token must name the database's own endpoint", r.Host)
	}
	region := r.Region
	if region == "" {
		region = f.Region
	}
	if region == "" {
		return Credential{}, errors.New("no region to sign the token in")
	}
	build := f.BuildToken
	if build == nil {
		build = auth.BuildAuthToken
	}
	now := f.now()
	tok, err := build(ctx, net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), region, r.User, f.Credentials)
	if err != nil {
		return Credential{}, err
	}
	return Credential{User: r.User, Password: tok, Expires: now.Add(IAMTokenLifetime)}, nil
}

func seconds(d time.Duration) *int32 {
	if d == 0 {
		return nil
	}
	return aws.Int32(int32(d / time.Second))
}

func (f *Fetcher) redshiftCluster(ctx context.Context, r Request) (Credential, error) {
	if r.User == "" {
		return Credential{}, errors.New("no database user: set user in the target")
	}
	in := &redshift.GetClusterCredentialsInput{
		ClusterIdentifier: aws.String(r.Cluster),
		DbUser:            aws.String(r.User),
		DurationSeconds:   seconds(r.Duration),
		DbGroups:          r.DBGroups,
	}
	if r.DBName != "" {
		in.DbName = aws.String(r.DBName)
	}
	if r.AutoCreate {
		in.AutoCreate = aws.Bool(true)
	}
	out, err := f.Redshift.GetClusterCredentials(ctx, in)
	if err != nil {
		return Credential{}, err
	}
	if aws.ToString(out.DbUser) == "" || aws.ToString(out.DbPassword) == "" {
		return Credential{}, errors.New("the reply holds no user or password")
	}
	return Credential{User: aws.ToString(out.DbUser), Password: aws.ToString(out.DbPassword), Expires: aws.ToTime(out.Expiration)}, nil
}

func (f *Fetcher) redshiftServerless(ctx context.Context, r Request) (Credential, error) {
	in := &redshiftserverless.GetCredentialsInput{
		WorkgroupName:   aws.String(r.Workgroup),
		DurationSeconds: seconds(r.Duration),
	}
	if r.DBName != "" {
		in.DbName = aws.String(r.DBName)
	}
	out, err := f.Serverless.GetCredentials(ctx, in)
	if err != nil {
		return Credential{}, err
	}
	if aws.ToString(out.DbUser) == "" || aws.ToString(out.DbPassword) == "" {
		return Credential{}, errors.New("the reply holds no user or password")
	}
	return Credential{User: aws.ToString(out.DbUser), Password: aws.ToString(out.DbPassword), Expires: aws.ToTime(out.Expiration)}, nil
}
