package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// Seed 003: the database lives in another account, reached by assuming a
// role there with the home account's credentials; the role's trust policy
// wants an external ID.
func TestCrossAccountRole(t *testing.T) {
	const home, prod, key, ext = "111111111111", "222222222222", "AKIDHOME", "ext-42"
	f := awsfake.NewServer(t)
	f.Account(home, key)
	r := f.Account(prod).RequireExternalID(ext).Region(testRegion)
	vpc := r.VPC("10.1.0.0/16")
	priv := vpc.Subnet("10.1.2.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion")
	r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	r.RDSInstance("prod-db", "postgres", []*awsfake.Subnet{priv}, vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB))
	for _, kv := range f.Env(key, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	role := "arn:aws:iam::" + prod + ":role/dbtunnel"
	withExt := func(id string) string {
		return writeConfig(t, fmt.Sprintf(`
profiles:
  prod: {role_arn: %q, external_id: %s}
discovery: {profiles: [prod]}
targets:
  direct: {database: prod-db, role_arn: %q, external_id: %s}
`, role, id, role, id))
	}

	cfg := withExt(ext)
	res := runApp(t, nil, "--config", cfg, "ls", "--json")
	if res.code != 0 {
		t.Fatalf("%+v", res)
	}
	var dbs []discovery.Database
	if err := json.Unmarshal([]byte(res.stdout), &dbs); err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 1 || dbs[0].Name != "prod-db" || dbs[0].Account != prod || dbs[0].Profile != "prod" ||
		len(dbs[0].Routes) == 0 || dbs[0].Routes[0].Verdict != discovery.VerdictOK {
		t.Fatalf("ls through the role: %s", res.stdout)
	}
	// A target's own role, with the home profile: found in the other account.
	res = runApp(t, nil, "--config", cfg, "doctor", "direct", "--json")
	var doc struct{ Verdict string }
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 0 || doc.Verdict != "ok" {
		t.Fatalf("doctor through the target's role: %v %+v", err, res)
	}

	res = runApp(t, nil, "--config", withExt("wrong"), "ls", "--refresh")
	if res.code == 0 || !strings.Contains(res.stderr, role) || !strings.Contains(res.stderr, "AccessDenied") {
		t.Fatalf("wrong external id: %+v", res)
	}
}
