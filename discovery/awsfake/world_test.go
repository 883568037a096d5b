package awsfake_test

import (
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

const (
	acctProd = "123456789012"
	keyProd  = "AKIDPROD"
	region   = "ap-northeast-1"
)

// world is the topology most tests share: one account, one region, the
// seeds' shapes (public SSH bastion, private SSM bastion, Aurora, RDS,
// proxy, Redshift, Redshift Serverless with a managed endpoint in another
// VPC, interface/gateway/resource endpoints).
type world struct {
	f    *awsfake.Fake
	acct *awsfake.Account
	r    *awsfake.Region

	vpc, other             *awsfake.VPC
	pub, priv, priv2, oSub *awsfake.Subnet

	sgBastion, sgPriv, sgDB, sgEP, sgOther *awsfake.SecurityGroup

	bastionPub, bastionPriv, stopped, lost *awsfake.Instance

	pg      *awsfake.DBInstance
	aurora  *awsfake.DBCluster
	docdb   *awsfake.DBCluster
	proxy   *awsfake.DBProxy
	rs      *awsfake.RedshiftCluster
	wg      *awsfake.Workgroup
	managed *awsfake.ManagedEndpoint

	ssmEP, s3EP, resEP *awsfake.VPCEndpoint
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{f: awsfake.NewServer(t)}
	w.acct = w.f.Account(acctProd, keyProd)
	w.r = w.acct.Region(region)

	w.vpc = w.r.VPC("10.0.0.0/16").Tag("Name", "prod")
	w.pub = w.vpc.Subnet("10.0.1.0/24", awsfake.Public)
	w.priv = w.vpc.Subnet("10.0.2.0/24").WithNAT()
	w.priv2 = w.vpc.Subnet("10.0.3.0/24", awsfake.AZ("c")).
		Route("10.50.0.0/16", "tgw-0123456789abcdef0").
		BlackholeRoute("10.60.0.0/16", "pcx-0123456789abcdef0")
	w.other = w.r.VPC("172.16.0.0/16")
	w.oSub = w.other.Subnet("172.16.1.0/24")

	w.sgBastion = w.vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "203.0.113.0/24", "2001:db8::/32")
	w.sgPriv = w.vpc.SecurityGroup("ssm-bastion")
	w.sgEP = w.vpc.SecurityGroup("endpoints").AllowIngressFromGroup("tcp", 443, w.sgPriv)
	w.sgDB = w.vpc.SecurityGroup("db").
		AllowIngressFromGroup("tcp", 5432, w.sgBastion).
		AllowIngressFromGroup("tcp", 5432, w.sgPriv).
		AllowIngressFromPrefixList("tcp", 5439, "pl-0123456789abcdef0").
		NoEgress()
	w.sgOther = w.other.SecurityGroup("consumers").AllowIngressRange("tcp", 5439, 5440, "172.16.0.0/16")

	w.bastionPub = w.r.Instance("bastion-public", w.pub, w.sgBastion).PublicIP("198.51.100.10").KeyName("ops")
	w.bastionPriv = w.r.Instance("bastion-private", w.priv, w.sgPriv).
		InstanceProfile("ssm-role").SSMOnline().Tag("dbtunnel:bastion", "true")
	w.stopped = w.r.Instance("old-bastion", w.priv, w.sgPriv).State("stopped").SSMOnline()
	w.lost = w.r.Instance("win-box", w.priv2).Windows().SSM("ConnectionLost")

	w.pg = w.r.RDSInstance("orders-pg", "postgres", []*awsfake.Subnet{w.priv, w.priv2}, w.sgDB).
		IAMAuth().ManagedSecret().Tag("team", "orders")
	w.aurora = w.r.AuroraCluster("prod-aurora", "aurora-postgresql", []*awsfake.Subnet{w.priv, w.priv2}, w.sgDB).
		Readers(1).CustomEndpoint("analytics").ManagedSecret().Tag("env", "prod")
	w.docdb = w.r.AuroraCluster("docs", "docdb", []*awsfake.Subnet{w.priv}, w.sgDB)
	w.proxy = w.r.RDSProxy("orders-proxy", "POSTGRESQL", []*awsfake.Subnet{w.priv, w.priv2}, w.sgDB).
		ReaderEndpoint("orders-ro", []*awsfake.Subnet{w.oSub}, w.sgOther)
	w.rs = w.r.RedshiftCluster("warehouse", []*awsfake.Subnet{w.priv}, w.sgDB).Tag("env", "prod")
	w.wg = w.r.ServerlessWorkgroup("analytics", []*awsfake.Subnet{w.priv, w.priv2}, w.sgDB)
	w.managed = w.wg.ManagedEndpoint("bi-ep", []*awsfake.Subnet{w.oSub}, w.sgOther)
	w.r.ServerlessWorkgroup("scratch", []*awsfake.Subnet{w.priv})
	w.r.ServerlessWorkgroup("etl", []*awsfake.Subnet{w.priv2})

	w.ssmEP = w.vpc.InterfaceEndpoint("ssm", []*awsfake.Subnet{w.priv}, w.sgEP)
	w.vpc.InterfaceEndpoint("ssmmessages", []*awsfake.Subnet{w.priv}, w.sgEP)
	w.vpc.InterfaceEndpoint("ec2messages", []*awsfake.Subnet{w.priv}, w.sgEP)
	w.s3EP = w.vpc.GatewayEndpoint("s3")
	w.resEP = w.vpc.ResourceEndpoint("partner-db", []*awsfake.Subnet{w.priv}, w.sgDB)
	return w
}
