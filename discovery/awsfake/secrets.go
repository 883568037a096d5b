package awsfake

import (
	"crypto/rand"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Database credentials: Secrets Manager secrets (the ones RDS and Redshift
// manage, and any the test stores), Redshift GetClusterCredentials and
// Redshift Serverless GetCredentials and ListNamespaces.

// secret is one Secrets Manager secret with its current value.
type secret struct {
	arn, name, value, version string
}

// Secret stores a secret (a plain string: JSON with username and password
// for the database secrets RDS writes) under name, replacing the value of
// one already there, and returns its ARN.
func (r *Region) Secret(name, value string) string {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	for _, s := range r.secrets {
		if s.name == name {
			s.value, s.version = value, r.f.uuid()
			return s.arn
		}
	}
	arn := "arn:aws:secretsmanager:" + r.name + ":" + r.acct.id + ":secret:" + name + "-" + r.f.lowerID(6)
	r.addSecret(arn, value, r.f.uuid())
	return arn
}

// SecretValue returns the current value of the secret with this ARN or
// name.
func (r *Region) SecretValue(id string) (string, bool) {
	r.f.mu.RLock()
	defer r.f.mu.RUnlock()
	if s := r.findSecret(id); s != nil {
		return s.value, true
	}
	return "", false
}

// addSecret stores a secret under its full ARN (name-XXXXXX at the end);
// f.mu is held.
func (r *Region) addSecret(arn, value, version string) {
	name := arn[strings.Index(arn, ":secret:")+len(":secret:"):]
	if i := strings.LastIndex(name, "-"); i > 0 {
		name = name[:i]
	}
	r.secrets = append(r.secrets, &secret{arn: arn, name: name, value: value, version: version})
}

// managedSecret creates the secret a service keeps an admin password in,
// as RDS and Redshift write it; f.mu is held. Its password and version
// derive from the ARN rather than the id counter, so that ids handed out
// after it are the same as before secrets had values.
func (r *Region) managedSecret(arn, user string) {
	v, _ := json.Marshal(map[string]string{"username": user, "password": stable("password/"+arn, 20) + "Aa1!"})
	h := fnv.New64a()
	h.Write([]byte(arn))
	r.addSecret(arn, string(v), uuidFrom(h.Sum64()))
}

// findSecret accepts a full ARN or a name, as SecretId does; f.mu is held.
func (r *Region) findSecret(id string) *secret {
	for _, s := range r.secrets {
		if s.arn == id || s.name == id {
			return s
		}
	}
	return nil
}

func smGetSecretValue(c *call) (any, *apiError) {
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionStage string `json:"VersionStage"`
	}
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	if in.SecretID == "" {
		return nil, &apiError{http.StatusBadRequest, "InvalidParameterException", "You must provide a value for the SecretId parameter."}
	}
	if in.VersionStage != "" && in.VersionStage != "AWSCURRENT" {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: " + in.VersionStage}
	}
	s := c.region.findSecret(in.SecretID)
	if s == nil {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
	}
	return struct {
		ARN           string   `json:"ARN"`
		Name          string   `json:"Name"`
		SecretString  string   `json:"SecretString"`
		VersionID     string   `json:"VersionId"`
		VersionStages []string `json:"VersionStages"`
		CreatedDate   float64  `json:"CreatedDate"`
	}{s.arn, s.name, s.value, s.version, []string{"AWSCURRENT"}, float64(created.Unix())}, nil
}

// tempPassword is a fresh temporary database password. Handlers run under
// a read lock, so it does not draw from the fake's id counter.
func tempPassword() string {
	return strings.ReplaceAll(rand.Text(), "=", "") + "Aa1"
}

// durationSeconds applies the 900-3600 s range both Redshift credential
// calls share, default 900.
func durationSeconds(v int, set bool, proto protocol) (time.Duration, *apiError) {
	if !set {
		return 900 * time.Second, nil
	}
	if v < 900 || v > 3600 {
		code := "InvalidParameterValue"
		if proto == protoJSON {
			code = "ValidationException"
		}
		return 0, &apiError{http.StatusBadRequest, code, "DurationSeconds must be between 900 and 3600 (got " + strconv.Itoa(v) + ")"}
	}
	return time.Duration(v) * time.Second, nil
}

type rsGetClusterCredentialsResult struct {
	DbUser     string `xml:"DbUser"`
	DbPassword string `xml:"DbPassword"`
	Expiration string `xml:"Expiration"`
}

func redshiftGetClusterCredentials(c *call) (any, *apiError) {
	id, user := c.param("ClusterIdentifier"), c.param("DbUser")
	if id == "" || user == "" {
		return nil, &apiError{http.StatusBadRequest, "MissingParameter", "ClusterIdentifier and DbUser are required"}
	}
	found := false
	for _, rc := range c.region.redshifts {
		found = found || rc.id == id
	}
	if !found {
		return nil, &apiError{http.StatusNotFound, "ClusterNotFound", "Cluster " + id + " not found."}
	}
	raw := c.param("DurationSeconds")
	n, _ := strconv.Atoi(raw)
	d, aerr := durationSeconds(n, raw != "", c.proto)
	if aerr != nil {
		return nil, aerr
	}
	return rsGetClusterCredentialsResult{
		DbUser: "IAM:" + user, DbPassword: tempPassword(),
		Expiration: time.Now().UTC().Add(d).Format(isoMillis),
	}, nil
}

func rssGetCredentials(c *call) (any, *apiError) {
	var in struct {
		WorkgroupName   string `json:"workgroupName"`
		DbName          string `json:"dbName"`
		DurationSeconds *int   `json:"durationSeconds"`
	}
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	if in.WorkgroupName == "" {
		return nil, &apiError{http.StatusBadRequest, "ValidationException", "workgroupName or customDomainName is required"}
	}
	found := false
	for _, w := range c.region.workgroups {
		found = found || w.name == in.WorkgroupName
	}
	if !found {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Workgroup " + in.WorkgroupName + " not found"}
	}
	n := 0
	if in.DurationSeconds != nil {
		n = *in.DurationSeconds
	}
	d, aerr := durationSeconds(n, in.DurationSeconds != nil, c.proto)
	if aerr != nil {
		return nil, aerr
	}
	// The database user follows the caller: IAM:user for an IAM user,
	// IAMR:role for an assumed role.
	arn := c.callerARN()
	user := "IAM:" + arn[strings.LastIndex(arn, "/")+1:]
	if strings.Contains(arn, ":assumed-role/") {
		parts := strings.Split(arn, "/")
		user = "IAMR:" + parts[1]
	}
	now := time.Now().UTC()
	return struct {
		DbUser          string  `json:"dbUser"`
		DbPassword      string  `json:"dbPassword"`
		Expiration      float64 `json:"expiration"`
		NextRefreshTime float64 `json:"nextRefreshTime"`
	}{user, tempPassword(), float64(now.Add(d).Unix()), float64(now.Add(d / 2).Unix())}, nil
}

type rssNamespace struct {
	AdminPasswordSecretArn      string `json:"adminPasswordSecretArn,omitempty"`
	AdminPasswordSecretKmsKeyID string `json:"adminPasswordSecretKmsKeyId,omitempty"`
	AdminUsername               string `json:"adminUsername"`
	CreationDate                string `json:"creationDate"`
	DbName                      string `json:"dbName"`
	NamespaceArn                string `json:"namespaceArn"`
	NamespaceID                 string `json:"namespaceId"`
	NamespaceName               string `json:"namespaceName"`
	Status                      string `json:"status"`
}

// rssListNamespaces lists one namespace per workgroup's namespace name.
func rssListNamespaces(c *call) (any, *apiError) {
	var in rssListWorkgroupsInput
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	var items []*Workgroup
	seen := map[string]bool{}
	for _, w := range c.region.workgroups {
		if !seen[w.namespace] {
			seen[w.namespace] = true
			items = append(items, w)
		}
	}
	page, next, aerr := paginate(c, items, in.NextToken, in.MaxResults, 100)
	if aerr != nil {
		return nil, aerr
	}
	out := struct {
		Namespaces []rssNamespace `json:"namespaces"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{Namespaces: []rssNamespace{}, NextToken: next}
	for _, w := range page {
		// Derived, not drawn from the id counter, so that adding
		// namespaces to the fake left every other id as it was.
		h := fnv.New64a()
		h.Write([]byte(c.region.acct.id + "/" + c.region.name + "/" + w.namespace))
		nsID := uuidFrom(h.Sum64())
		ns := rssNamespace{
			AdminUsername: w.adminUser, CreationDate: created.Format(time.RFC3339Nano), DbName: "dev",
			NamespaceArn: "arn:aws:redshift-serverless:" + c.region.name + ":" + c.region.acct.id + ":namespace/" + nsID,
			NamespaceID:  nsID, NamespaceName: w.namespace, Status: "AVAILABLE",
		}
		if w.adminSecret != "" {
			ns.AdminPasswordSecretArn = w.adminSecret
			ns.AdminPasswordSecretKmsKeyID = "AWS_OWNED_KMS_KEY"
		}
		out.Namespaces = append(out.Namespaces, ns)
	}
	return out, nil
}

// ManagedAdminSecret makes Redshift Serverless keep the namespace's admin
// password in Secrets Manager.
func (w *Workgroup) ManagedAdminSecret() *Workgroup {
	defer w.lock()()
	r := w.r
	w.adminSecret = "arn:aws:secretsmanager:" + r.name + ":" + r.acct.id + ":secret:redshift!" + w.namespace + "-" + w.adminUser + "-" + r.f.lowerID(6)
	r.managedSecret(w.adminSecret, w.adminUser)
	return w
}

// AdminSecretARN returns the namespace's admin secret, "" without one.
func (w *Workgroup) AdminSecretARN() string {
	w.r.f.mu.RLock()
	defer w.r.f.mu.RUnlock()
	return w.adminSecret
}
