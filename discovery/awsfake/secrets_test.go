package awsfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	rstypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	rsstypes "github.com/aws/aws-sdk-go-v2/service/redshiftserverless/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// The managed master secret RDS reports is readable through Secrets
// Manager, by ARN, with the username RDS reports and a password.
func TestSDKSecretsManagerMasterUserSecret(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	out, err := rds.NewFromConfig(cfg(w.f, keyProd, region)).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("orders-pg")})
	if err != nil || len(out.DBInstances) != 1 || out.DBInstances[0].MasterUserSecret == nil {
		t.Fatalf("DescribeDBInstances: %+v %v", out, err)
	}
	db := out.DBInstances[0]
	arn := aws.ToString(db.MasterUserSecret.SecretArn)
	if arn != w.pg.SecretARN() || !strings.Contains(arn, ":secret:rds!db-") {
		t.Fatalf("MasterUserSecret %s, want %s", arn, w.pg.SecretARN())
	}
	sm := secretsmanager.NewFromConfig(cfg(w.f, keyProd, region))
	v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	var up struct{ Username, Password string }
	if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &up); err != nil {
		t.Fatalf("secret is not JSON: %v", err)
	}
	if up.Username != aws.ToString(db.MasterUsername) || len(up.Password) < 16 || aws.ToString(v.ARN) != arn ||
		len(v.VersionStages) != 1 || v.VersionStages[0] != "AWSCURRENT" || v.CreatedDate == nil {
		t.Errorf("secret value: user %q (master %q), password of %d chars, %+v", up.Username, aws.ToString(db.MasterUsername), len(up.Password), v)
	}
	if got, _ := w.r.SecretValue(arn); got != aws.ToString(v.SecretString) {
		t.Errorf("SecretValue disagrees with the API")
	}

	named := w.r.Secret("app/orders", `{"username":"app","password":"pw-1"}`)
	for _, id := range []string{"app/orders", named} {
		v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil || aws.ToString(v.SecretString) != `{"username":"app","password":"pw-1"}` || aws.ToString(v.Name) != "app/orders" {
			t.Errorf("GetSecretValue(%s): %+v %v", id, v, err)
		}
	}
	if again := w.r.Secret("app/orders", `{"username":"app","password":"pw-2"}`); again != named {
		t.Errorf("replacing a value changed the ARN: %s → %s", named, again)
	}

	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	var rnf *smtypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("missing secret: %v", err)
	}
	w.f.Deny("secretsmanager:GetSecretValue")
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(named)})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("denied: %v", err)
	}
}

func TestSDKRedshiftGetClusterCredentials(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := redshift.NewFromConfig(cfg(w.f, keyProd, region))
	before := time.Now()
	out, err := c.GetClusterCredentials(ctx, &redshift.GetClusterCredentialsInput{
		ClusterIdentifier: aws.String("warehouse"), DbUser: aws.String("analyst"),
		DbName: aws.String("dev"), DurationSeconds: aws.Int32(1800), AutoCreate: aws.Bool(true),
		DbGroups: []string{"readers"},
	})
	if err != nil {
		t.Fatalf("GetClusterCredentials: %v", err)
	}
	if aws.ToString(out.DbUser) != "IAM:analyst" || len(aws.ToString(out.DbPassword)) < 16 || out.Expiration == nil ||
		out.Expiration.Before(before.Add(1790*time.Second)) || out.Expiration.After(time.Now().Add(1801*time.Second)) {
		t.Errorf("credentials: user %q, %d-char password, expires %v", aws.ToString(out.DbUser), len(aws.ToString(out.DbPassword)), out.Expiration)
	}
	again, err := c.GetClusterCredentials(ctx, &redshift.GetClusterCredentialsInput{ClusterIdentifier: aws.String("warehouse"), DbUser: aws.String("analyst")})
	if err != nil || aws.ToString(again.DbPassword) == aws.ToString(out.DbPassword) {
		t.Errorf("a second call should give a fresh password: %v", err)
	}
	_, err = c.GetClusterCredentials(ctx, &redshift.GetClusterCredentialsInput{ClusterIdentifier: aws.String("nope"), DbUser: aws.String("analyst")})
	var nf *rstypes.ClusterNotFoundFault
	if !errors.As(err, &nf) {
		t.Errorf("missing cluster: %v", err)
	}
	_, err = c.GetClusterCredentials(ctx, &redshift.GetClusterCredentialsInput{ClusterIdentifier: aws.String("warehouse"), DbUser: aws.String("a"), DurationSeconds: aws.Int32(60)})
	if err == nil || !strings.Contains(err.Error(), "900 and 3600") {
		t.Errorf("short duration: %v", err)
	}
}

func TestSDKRedshiftServerlessCredentials(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.wg.ManagedAdminSecret()
	c := redshiftserverless.NewFromConfig(cfg(w.f, keyProd, region))

	ns, err := c.ListNamespaces(ctx, &redshiftserverless.ListNamespacesInput{})
	if err != nil {
		t.Fatalf("ListNamespaces: %v", err)
	}
	byName := map[string]rsstypes.Namespace{}
	for _, n := range ns.Namespaces {
		byName[aws.ToString(n.NamespaceName)] = n
	}
	a := byName["analytics"]
	if len(ns.Namespaces) != 3 || aws.ToString(a.AdminPasswordSecretArn) != w.wg.AdminSecretARN() || aws.ToString(a.AdminUsername) != "admin" ||
		aws.ToString(a.NamespaceId) == "" || aws.ToString(byName["etl"].AdminPasswordSecretArn) != "" {
		t.Fatalf("namespaces: %+v", ns.Namespaces)
	}
	v, err := secretsmanager.NewFromConfig(cfg(w.f, keyProd, region)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: a.AdminPasswordSecretArn})
	if err != nil || !strings.Contains(aws.ToString(v.SecretString), `"username":"admin"`) {
		t.Errorf("admin secret: %+v %v", v, err)
	}

	before := time.Now()
	cr, err := c.GetCredentials(ctx, &redshiftserverless.GetCredentialsInput{WorkgroupName: aws.String("analytics"), DbName: aws.String("dev"), DurationSeconds: aws.Int32(3600)})
	if err != nil {
		t.Fatalf("GetCredentials: %v", err)
	}
	if aws.ToString(cr.DbUser) != "IAM:dbtunnel" || len(aws.ToString(cr.DbPassword)) < 16 || cr.Expiration == nil ||
		cr.Expiration.Before(before.Add(3590*time.Second)) || cr.NextRefreshTime == nil {
		t.Errorf("credentials: %q %v %v", aws.ToString(cr.DbUser), cr.Expiration, cr.NextRefreshTime)
	}
	_, err = c.GetCredentials(ctx, &redshiftserverless.GetCredentialsInput{WorkgroupName: aws.String("nope")})
	var rnf *rsstypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("missing workgroup: %v", err)
	}
	w.acct.Caller("arn:aws:sts::" + acctProd + ":assumed-role/analyst/session-1")
	cr, err = c.GetCredentials(ctx, &redshiftserverless.GetCredentialsInput{WorkgroupName: aws.String("analytics")})
	if err != nil || aws.ToString(cr.DbUser) != "IAMR:analyst" {
		t.Errorf("assumed role: %+v %v", cr, err)
	}
}
