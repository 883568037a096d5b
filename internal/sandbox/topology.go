package sandbox

import (
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// The demo's two AWS profiles, each its own fake account.
const (
	ProfileDev  = "dev"
	ProfileProd = "prod"
	Region      = "ap-northeast-1"

	accountDev  = "111111111111"
	accountProd = "222222222222"
	keyDev      = "AKIDDBTUNNELDEMODEV"
	keyProd     = "AKIDDBTUNNELDEMOPRD"

	// PublicBastionIP is the dev bastion's public address (TEST-NET-2);
	// the sandbox's ssh config sends it to the in-process SSH server.
	PublicBastionIP = "198.51.100.10"
)

// The databases of the demo, by identifier.
const (
	DBDevAurora  = "dev-aurora"  // Aurora PostgreSQL with a reader: SSM and SSH both work
	DBDevMySQL   = "dev-mysql"   // RDS MySQL: works (a stand-in answers)
	DBDevLegacy  = "dev-legacy"  // RDS PostgreSQL whose group admits nothing: blocked
	DBProdAurora = "prod-aurora" // Aurora PostgreSQL in prod: SSM through interface endpoints
	DBProdOrders = "prod-orders" // RDS PostgreSQL on the VPC's default group: blocked
	// WGAnalytics is a Redshift Serverless workgroup reached through the
	// managed VPC endpoint EPAnalytics in another VPC (seed 001).
	WGAnalytics = "analytics"
	EPAnalytics = "analytics-tools"
)

// service is what answers at a fake database endpoint.
type service int

const (
	svcPostgres service = iota // the local PostgreSQL (or its stand-in)
	svcMySQL                   // the MySQL stand-in
)

// world is the fake AWS inventory and where each reachable database
// endpoint really is: the endpoints the bastions may dial.
type world struct {
	fake *awsfake.Fake
	// open maps a database endpoint (host:port, as discovery reports it)
	// to the service behind it. Endpoints that security groups block are
	// absent: a bastion dialing them gets what AWS would give, nothing.
	open map[string]service
	// publicBastion, privateBastions and offlineBastions are instance ids.
	publicBastion   string
	privateBastions []string
	offlineBastions []string
}

// buildWorld lays out the demo's two accounts in the patterns of the seeds:
// a public bastion for SSH and a private one for SSM (000), a Redshift
// Serverless managed endpoint whose own group is the only one that matters
// (001), database groups that admit nothing or are the VPC default (002).
func buildWorld() *world {
	f := awsfake.New()
	w := &world{fake: f, open: map[string]service{}}

	// dev: one VPC, a public bastion (SSH), a private one behind a NAT
	// (SSM), and one whose subnet has no way out to Systems Manager.
	dev := f.Account(accountDev, keyDev).Region(Region)
	dvpc := dev.VPC("10.10.0.0/16").Tag("Name", "dev")
	dpub := dvpc.Subnet("10.10.1.0/24", awsfake.Public).Tag("Name", "dev-public-a")
	dpriv := dvpc.Subnet("10.10.2.0/24").WithNAT().Tag("Name", "dev-private-a")
	dpriv2 := dvpc.Subnet("10.10.3.0/24").WithNAT().Tag("Name", "dev-private-c")
	disolated := dvpc.Subnet("10.10.9.0/24").Tag("Name", "dev-isolated")
	sgPub := dvpc.SecurityGroup("bastion-public").AllowIngress("tcp", 22, "0.0.0.0/0")
	sgPriv := dvpc.SecurityGroup("bastion-private")
	w.publicBastion = dev.Instance("bastion-public", dpub, sgPub).PublicIP(PublicBastionIP).KeyName("dev-bastion").ID()
	w.privateBastions = append(w.privateBastions,
		dev.Instance("bastion-private", dpriv, sgPriv).InstanceProfile("ssm-core").SSMOnline().ID())
	w.offlineBastions = append(w.offlineBastions,
		dev.Instance("bastion-isolated", disolated, sgPriv).InstanceProfile("ssm-core").SSM("ConnectionLost").ID())
	dsubs := []*awsfake.Subnet{dpriv, dpriv2}
	sgAurora := dvpc.SecurityGroup("dev-aurora").AllowIngressFromGroup("tcp", 5432, sgPub, sgPriv)
	ca := dev.AuroraCluster(DBDevAurora, "aurora-postgresql", dsubs, sgAurora).Readers(1).Tag("env", "dev")
	w.open[ca.Writer().String()] = svcPostgres
	w.open[ca.Reader().String()] = svcPostgres
	sgMySQL := dvpc.SecurityGroup("dev-mysql").AllowIngressFromGroup("tcp", 3306, sgPriv)
	my := dev.RDSInstance(DBDevMySQL, "mysql", dsubs, sgMySQL).Tag("env", "dev")
	w.open[my.Endpoint().String()] = svcMySQL
	// Seed 002: a group with no inbound rule at all.
	dev.RDSInstance(DBDevLegacy, "postgres", dsubs, dvpc.SecurityGroup("dev-legacy")).EngineVersion("13.16")

	// prod: no public bastion; SSM through the three interface endpoints
	// (no NAT), and a tools VPC that reaches the analytics workgroup
	// through a Redshift-managed VPC endpoint.
	prod := f.Account(accountProd, keyProd).Region(Region)
	pvpc := prod.VPC("10.20.0.0/16").Tag("Name", "prod")
	pa := pvpc.Subnet("10.20.1.0/24").Tag("Name", "prod-private-a")
	pc := pvpc.Subnet("10.20.2.0/24").Tag("Name", "prod-private-c")
	sgProdBastion := pvpc.SecurityGroup("bastion")
	sgEndpoints := pvpc.SecurityGroup("ssm-endpoints").AllowIngressFromGroup("tcp", 443, sgProdBastion)
	for _, svc := range []string{"ssm", "ssmmessages", "ec2messages"} {
		pvpc.InterfaceEndpoint(svc, []*awsfake.Subnet{pa}, sgEndpoints)
	}
	w.privateBastions = append(w.privateBastions,
		prod.Instance("bastion-prod", pa, sgProdBastion).InstanceProfile("ssm-core").SSMOnline().ID())
	psubs := []*awsfake.Subnet{pa, pc}
	sgProdAurora := pvpc.SecurityGroup("prod-aurora").AllowIngressFromGroup("tcp", 5432, sgProdBastion)
	pca := prod.AuroraCluster(DBProdAurora, "aurora-postgresql", psubs, sgProdAurora).Readers(1).Tag("env", "prod")
	w.open[pca.Writer().String()] = svcPostgres
	w.open[pca.Reader().String()] = svcPostgres
	// Seed 002: only the VPC's default group, which admits only itself.
	prod.RDSInstance(DBProdOrders, "postgres", psubs, pvpc.DefaultSecurityGroup()).Tag("env", "prod")

	// Seed 001: the workgroup's own group admits nothing; the managed
	// endpoint's group admits 5439 from the tools bastion, which is all
	// PrivateLink needs.
	tvpc := prod.VPC("10.30.0.0/16").Tag("Name", "tools")
	ta := tvpc.Subnet("10.30.1.0/24").WithNAT().Tag("Name", "tools-private-a")
	sgTools := tvpc.SecurityGroup("bastion-tools")
	w.privateBastions = append(w.privateBastions,
		prod.Instance("bastion-tools", ta, sgTools).InstanceProfile("ssm-core").SSMOnline().ID())
	wg := prod.ServerlessWorkgroup(WGAnalytics, psubs, pvpc.SecurityGroup("analytics-workgroup"))
	sgEP := tvpc.SecurityGroup("analytics-endpoint").AllowIngressFromGroup("tcp", 5439, sgTools)
	ep := wg.ManagedEndpoint(EPAnalytics, []*awsfake.Subnet{ta}, sgEP)
	// Redshift speaks the PostgreSQL protocol: in the demo the local
	// PostgreSQL answers for it.
	w.open[ep.Endpoint().String()] = svcPostgres
	return w
}
