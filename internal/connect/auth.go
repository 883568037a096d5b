package connect

import (
	"context"
	"fmt"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/creds"
)

// withAuth decides where t's password comes from: the target's auth block,
// else (auto) the admin secret discovery found for the database, when the
// target does not log in as someone else.
func withAuth(t Target, ct *config.Target) (Target, error) {
	var a config.Auth
	if ct != nil {
		t.SSLRootCert = ct.SSLRootCert
		if ct.Auth != nil {
			a = *ct.Auth
		}
	}
	var db *discovery.Database
	if t.Found != nil {
		db = &t.Found.Database
	}
	req := creds.Request{Target: t.Name, User: t.User, Region: t.Region, DBName: t.DBName}
	switch a.Source {
	case config.AuthNone:
		return t, nil
	case "", config.AuthAuto:
		if db == nil || db.MasterUserSecretARN == "" {
			return t, nil
		}
		if t.User != "" && db.MasterUsername != "" && t.User != db.MasterUsername {
			return t, nil // the target logs in as another user than the admin
		}
		req.Kind, req.SecretID = creds.KindSecret, db.MasterUserSecretARN
	case config.AuthMasterSecret:
		if db == nil || db.MasterUserSecretARN == "" {
			return Target{}, usageErrorf("target %s: %s keeps no admin password in Secrets Manager (no RDS MasterUserSecret or Redshift admin secret): use auth.source secret or iam", t.Name, dbLabel(t))
		}
		req.Kind, req.SecretID = creds.KindSecret, db.MasterUserSecretARN
	case config.AuthSecret:
		req.Kind, req.SecretID = creds.KindSecret, a.Secret
	case config.AuthIAM:
		if db != nil && (db.Kind == discovery.KindRedshiftCluster || db.Kind == discovery.KindRedshiftServerless) {
			return Target{}, usageErrorf("target %s: IAM database tokens are for RDS and Aurora; for Redshift use auth.source redshift-iam", t.Name)
		}
		if t.User == "" {
			return Target{}, usageErrorf("target %s: auth.source iam needs user (the database user the token is for)", t.Name)
		}
		// Signed for the endpoint the bastion dials, never the local end.
		req.Kind, req.Host, req.Port = creds.KindIAMToken, t.Host, t.Port
	case config.AuthRedshiftIAM:
		req.Duration, req.AutoCreate, req.DBGroups = a.Duration, a.AutoCreate, a.DBGroups
		switch {
		case db != nil && db.Kind == discovery.KindRedshiftCluster:
			if t.User == "" {
				return Target{}, usageErrorf("target %s: auth.source redshift-iam on a cluster needs user (the database user to get credentials for)", t.Name)
			}
			req.Kind, req.Cluster = creds.KindRedshiftCluster, db.Name
		case db != nil && db.Kind == discovery.KindRedshiftServerless:
			// The user follows from the IAM identity.
			req.Kind, req.Workgroup, req.User = creds.KindRedshiftServerless, db.Name, ""
		default:
			return Target{}, usageErrorf("target %s: auth.source redshift-iam needs a Redshift cluster or Serverless workgroup; %s is not one", t.Name, dbLabel(t))
		}
	default:
		return Target{}, usageErrorf("target %s: unknown auth.source %q", t.Name, a.Source)
	}
	t.Auth = &req
	return t, nil
}

func dbLabel(t Target) string {
	if t.Found != nil {
		return string(t.Found.Database.Kind) + " " + t.Found.Database.Name
	}
	return t.Host
}

// Credential fetches t's password with the AWS identity of its profile,
// region and role; nil when t has no credential source.
func (o *Opener) Credential(ctx context.Context, t Target) (*creds.Credential, error) {
	if t.Auth == nil {
		return nil, nil
	}
	ac, err := o.awsConfig(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", t.Name, err)
	}
	c, err := creds.NewFromAWS(ac).Fetch(ctx, *t.Auth)
	if err != nil {
		return nil, err
	}
	o.Logger.Debug("database credential fetched", "target", t.Name, "credential", c)
	return &c, nil
}
